package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"strings"
)

// series is one line of a chart.
type series struct {
	Name  string
	Color string
	Y     []float64
}

// svgChart renders a line chart as inline SVG. x values are shared by all
// series. A positive warmup shades x in [0, warmup] as the warm-up (its
// latency is not in the figures).
func svgChart(title, xLabel, yLabel string, x []float64, ss []series, warmup float64) string {
	const W, H, L, R, T, B = 760.0, 300.0, 70.0, 20.0, 30.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s">`, W, H, W, H, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="18" font-size="14" font-weight="bold">%s</text>`, L, template.HTMLEscapeString(title))
	if len(x) == 0 {
		b.WriteString(`<text x="70" y="150">no data</text></svg>`)
		return b.String()
	}
	xmin, xmax := x[0], x[len(x)-1]
	if warmup > 0 && xmin > 0 {
		xmin = 0 // the run's start, so the warm-up shows from its beginning
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	ymax := 0.0
	for _, s := range ss {
		for _, v := range s.Y {
			if !math.IsNaN(v) {
				ymax = math.Max(ymax, v)
			}
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	ymax = niceCeil(ymax)
	px := func(v float64) float64 { return L + (v-xmin)/(xmax-xmin)*(W-L-R) }
	py := func(v float64) float64 { return H - B - v/ymax*(H-T-B) }
	if warmup > xmin {
		w := math.Min(warmup, xmax)
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%.1f" height="%g" fill="#f0f0f0"/><text x="%.1f" y="%g" font-size="11" fill="#777" text-anchor="middle">warm-up</text>`,
			L, T, px(w)-L, H-T-B, (L+px(w))/2, T+12)
	}
	// axes and grid
	fmt.Fprintf(&b, `<g font-size="11" fill="#555" stroke="none">`)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`, L, y, W-R, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, L-6, y+4, fmtNum(v))
	}
	// x ticks at a round step (1, 2, 2.5 or 5 × 10ⁿ), about six of them.
	step := niceCeil((xmax - xmin) / 6)
	for v := math.Ceil(xmin/step) * step; v <= xmax+step/1e6; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#333"/>`, px(v), H-B, px(v), H-B+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, px(v), H-B+16, fmtNum(v))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`, (L+W-R)/2, H-6, template.HTMLEscapeString(xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%g" transform="rotate(-90 14 %g)" text-anchor="middle">%s</text>`, (T+H-B)/2, (T+H-B)/2, template.HTMLEscapeString(yLabel))
	b.WriteString(`</g>`)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#333"/>`, L, H-B, W-R, H-B)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#333"/>`, L, T, L, H-B)
	for i, s := range ss {
		var pts []string
		for j, v := range s.Y {
			if j < len(x) && !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x[j]), py(v)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.Color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%g" y="%d" width="10" height="10" fill="%s"/><text x="%g" y="%d" font-size="11">%s</text>`,
			W-R-150, 28+14*i, s.Color, W-R-135, 37+14*i, template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

var htmlTmpl = template.Must(template.New("r").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>loadgen {{.R.Mode}} {{.Server}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:820px}pre{background:#f5f5f5;padding:1em;overflow:auto}
.pass{color:#070}.fail{color:#b00}th{text-align:left;font-weight:600}td,th{padding:2px 1.5em 2px 0}</style></head><body>
<h1>loadgen {{.R.Mode}} — {{if .R.OK}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}</h1>
<h2>Settings</h2>
<table>{{range .Settings}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
<h2>Result</h2>
<pre>{{.Summary}}</pre>
{{range .Charts}}<div>{{.}}</div>{{end}}
<details><summary>full report (JSON)</summary><pre>{{.JSON}}</pre></details>
</body></html>
`))

// WriteHTML writes a self-contained HTML report (inline SVG charts, no
// external resources) to path.
func (r *Report) WriteHTML(path string) error {
	var sum bytes.Buffer
	r.WriteSummary(&sum)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	var charts []template.HTML
	if rp := r.Ramp; len(rp) > 0 {
		x := make([]float64, len(rp))
		up, p50, p99 := make([]float64, len(rp)), make([]float64, len(rp)), make([]float64, len(rp))
		for i, p := range rp {
			x[i], up[i], p50[i], p99[i] = p.T, float64(p.Up), p.P50Ms, p.P99Ms
			if p.N == 0 { // no handshake ended in this slice: a gap, not a zero
				p50[i], p99[i] = math.NaN(), math.NaN()
			}
		}
		charts = append(charts,
			template.HTML(svgChart("ramp: connections up", "seconds since the ramp began", "connections", x, []series{{"up", "#1f77b4", up}}, 0)),
			template.HTML(svgChart("ramp: handshake latency (auth + upgrade)", "seconds since the ramp began", "ms", x, []series{
				{"p50", "#2ca02c", p50}, {"p99", "#d62728", p99}}, 0)))
	}
	if tl := r.Timeline; len(tl) > 0 {
		x := make([]float64, len(tl))
		del, sent, up := make([]float64, len(tl)), make([]float64, len(tl)), make([]float64, len(tl))
		p50, p90, p99, mx := make([]float64, len(tl)), make([]float64, len(tl)), make([]float64, len(tl)), make([]float64, len(tl))
		for i, s := range tl {
			x[i] = float64(s.T + 1)
			del[i], sent[i], up[i] = float64(s.Deliveries), float64(s.Sent), float64(s.ConnsUp)
			p50[i], p90[i], p99[i], mx[i] = s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs
		}
		if r.Mode == "connect" {
			x = x[:0]
			for _, s := range tl {
				x = append(x, float64(s.T))
			}
			charts = append(charts, template.HTML(svgChart("held: connections up", "seconds of the hold", "connections", x, []series{{"up", "#1f77b4", up}}, 0)))
		} else {
			warm := r.Config.Warmup.Seconds()
			charts = append(charts,
				template.HTML(svgChart("deliveries per second", "seconds", "deliveries/s", x, []series{{"deliveries/s", "#1f77b4", del}}, warm)),
				template.HTML(svgChart("publishes per second", "seconds", "publishes/s", x, []series{{"published/s", "#ff7f0e", sent}}, warm)),
				template.HTML(svgChart("latency per second (receive − intended send)", "seconds", "ms", x, []series{
					{"p50", "#2ca02c", p50}, {"p90", "#1f77b4", p90}, {"p99", "#d62728", p99}, {"max", "#999", mx}}, warm)))
		}
	}
	if len(r.Steps) > 0 {
		x := make([]float64, len(r.Steps))
		rate, p99 := make([]float64, len(r.Steps)), make([]float64, len(r.Steps))
		for i, s := range r.Steps {
			x[i] = float64(i)
			rate[i], p99[i] = s.DeliveriesPerSec, s.Latency.P99Ms
		}
		charts = append(charts,
			template.HTML(svgChart("sweep: deliveries per second by step", "step", "per second", x, []series{{"deliveries/s", "#1f77b4", rate}}, 0)),
			template.HTML(svgChart("sweep: p99 latency by step", "step", "ms", x, []series{{"p99", "#d62728", p99}}, 0)))
	}
	var out bytes.Buffer
	if err := htmlTmpl.Execute(&out, map[string]any{"R": r, "Server": r.nodes()[0], "Settings": r.settings(), "Summary": sum.String(), "JSON": string(js), "Charts": charts}); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	return nil
}

// setting is one row of the report's settings table.
type setting struct{ Name, Value string }

// settings are the run's knobs in human units (durations as 10s, 500ms).
func (r *Report) settings() []setting {
	c := r.Config
	out := []setting{{"mode", r.Mode}, {"server", r.nodes()[0]}, {"connections", fmt.Sprint(c.Conns)}}
	switch r.Mode {
	case "connect":
		out = append(out, setting{"connect rate", fmt.Sprintf("%g connections/s", c.Rate)}, setting{"hold", c.Duration.String()})
	default:
		out = append(out,
			setting{"rooms", fmt.Sprint(c.Rooms)},
			setting{"publishers per room", fmt.Sprint(c.Publishers)},
			setting{"rate", fmt.Sprintf("%g messages/s per publisher", c.Rate)},
			setting{"message size", fmt.Sprintf("%d bytes", c.Size)},
			setting{"duration", c.Duration.String() + " (warm-up " + c.Warmup.String() + " of it)"},
			setting{"drain", c.Drain.String()},
			setting{"setup connect rate", fmt.Sprintf("%g connections/s", c.ConnectRate)})
		if r.Mode == "sweep" {
			out = append(out, setting{"sweep", fmt.Sprintf("× %g per step, at most %d steps", c.Step, c.MaxSteps)})
		}
		if r.Mode == "churn" {
			out = append(out, setting{"churn rate", fmt.Sprintf("%g reconnects/s", c.ChurnRate)})
		}
	}
	if c.MaxP99 > 0 {
		out = append(out, setting{"p99 bound", c.MaxP99.String()})
	}
	if c.MinRate > 0 {
		out = append(out, setting{"minimum rate", fmt.Sprintf("%g/s", c.MinRate)})
	}
	if c.Compat != "" {
		out = append(out, setting{"dialect", c.Compat})
	}
	return out
}

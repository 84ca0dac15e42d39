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

// svgChart renders a line chart as inline SVG. x values are shared by all series.
func svgChart(title, xLabel, yLabel string, x []float64, ss []series) string {
	const W, H, L, R, T, B = 760.0, 300.0, 70.0, 20.0, 30.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s">`, W, H, W, H, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="18" font-size="14" font-weight="bold">%s</text>`, L, template.HTMLEscapeString(title))
	if len(x) == 0 {
		b.WriteString(`<text x="70" y="150">no data</text></svg>`)
		return b.String()
	}
	xmin, xmax := x[0], x[len(x)-1]
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
	// axes and grid
	fmt.Fprintf(&b, `<g font-size="11" fill="#555" stroke="none">`)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`, L, y, W-R, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, L-6, y+4, fmtNum(v))
	}
	for i := 0; i <= 5; i++ {
		v := xmin + (xmax-xmin)*float64(i)/5
		if xmax-xmin >= 5 {
			v = math.Round(v)
		}
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
<html><head><meta charset="utf-8"><title>loadgen {{.R.Mode}} {{.R.Config.Addr}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:820px}pre{background:#f5f5f5;padding:1em;overflow:auto}
.pass{color:#070}.fail{color:#b00}</style></head><body>
<h1>loadgen {{.R.Mode}} — {{if .R.OK}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}</h1>
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
			charts = append(charts, template.HTML(svgChart("connections up", "seconds", "connections", x, []series{{"up", "#1f77b4", up}})))
		} else {
			charts = append(charts,
				template.HTML(svgChart("deliveries per second", "seconds", "per second", x, []series{{"deliveries/s", "#1f77b4", del}, {"published/s", "#ff7f0e", sent}})),
				template.HTML(svgChart("latency per second (receive − intended send)", "seconds", "ms", x, []series{
					{"p50", "#2ca02c", p50}, {"p90", "#1f77b4", p90}, {"p99", "#d62728", p99}, {"max", "#999", mx}})))
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
			template.HTML(svgChart("sweep: deliveries per second by step", "step", "per second", x, []series{{"deliveries/s", "#1f77b4", rate}})),
			template.HTML(svgChart("sweep: p99 latency by step", "step", "ms", x, []series{{"p99", "#d62728", p99}})))
	}
	var out bytes.Buffer
	if err := htmlTmpl.Execute(&out, map[string]any{"R": r, "Summary": sum.String(), "JSON": string(js), "Charts": charts}); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	return nil
}

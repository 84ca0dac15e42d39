package wsio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// Output a plain HTTP socket may have queued (unread by its client): past
// httpOutPause its pipelined requests wait until the client reads; past
// httpOutMax it is closed. A client that never reads its responses cannot
// make the server hold more than about one response beyond the pause.
const (
	httpOutPause = 64 << 10
	httpOutMax   = 1 << 20
)

// onHTTP reads one request head from gnet's buffer and routes it: /ws to the
// upgrader on this loop, everything else to the net/http Handler off-loop.
func (c *conn) onHTTP() {
	if c.httpBusy || c.httpPause {
		// Pipelined bytes wait until the current response is written
		// and read; bound them.
		if c.gc.InboundBuffered() > c.srv.cfg.MaxHeaderBytes+c.srv.cfg.MaxHTTPBody {
			c.drop()
		}
		return
	}
	buf, _ := c.gc.Peek(-1)
	h, complete, err := sniffRequest(buf, c.srv.cfg.MaxHeaderBytes)
	switch {
	case err == errHeaderTooLarge:
		c.rejectHTTP(http.StatusRequestHeaderFieldsTooLarge, command.ErrHeaderTooLarge, "request header too large")
		return
	case err != nil:
		c.rejectHTTP(http.StatusBadRequest, command.ErrBadRequest, err.Error())
		return
	case !complete:
		return
	}
	if bytes.HasSuffix(h.path, []byte(command.PathWS)) { // "/ws", or behind a path prefix
		if !bytes.Equal(h.method, []byte("GET")) {
			c.rejectHTTP(http.StatusMethodNotAllowed, command.ErrMethodNotAllowed, "use GET to open a WebSocket")
			return
		}
		c.upgrade(buf[:h.headerLen])
		return
	}
	if h.chunked {
		c.rejectHTTP(http.StatusLengthRequired, command.ErrLengthRequired, "chunked request bodies are not supported; send Content-Length")
		return
	}
	if h.bodyLen > c.srv.cfg.MaxHTTPBody {
		c.rejectHTTP(http.StatusRequestEntityTooLarge, command.ErrBodyTooLarge, "request body too large")
		return
	}
	total := h.headerLen + h.bodyLen
	if len(buf) < total {
		return // wait for the body
	}
	select {
	case c.srv.httpSem <- struct{}{}:
	default:
		c.rejectHTTP(http.StatusServiceUnavailable, command.ErrBusy, "too many requests in flight")
		return
	}
	raw := bytes.Clone(buf[:total])
	_, _ = c.gc.Discard(total)
	c.httpBusy = true
	c.httpReqs++
	last := int(c.httpReqs) >= c.srv.cfg.MaxReqsPerConn
	c.ls.stats.HTTPRequests.Add(1)
	c.srv.httpWG.Add(1)
	// The peer's address is read here, on the loop: gnet may recycle the
	// connection while the handler runs.
	go c.srv.serveHTTP(c, raw, c.remote(), last)
}

// resumeHTTP reads pipelined requests again once the client has read its
// responses down to httpOutPause.
func (c *conn) resumeHTTP() {
	c.httpPause = false
	if c.gc.InboundBuffered() > 0 {
		c.onHTTP()
	}
}

// httpDeadline is the next idle deadline of a keep-alive socket: the idle
// allowance from now, but never past the socket's HTTP lifetime.
func (c *conn) httpDeadline(now time.Time) int64 {
	cfg := &c.srv.cfg
	return min(now.Add(cfg.HandshakeTimeout).UnixNano(), c.since+int64(cfg.HTTPLifetime))
}

// rejectHTTP answers a request the loop refuses by itself and closes.
func (c *conn) rejectHTTP(status int, code, msg string) {
	_, _ = c.gc.Write(httpErrorResponse(status, code, msg))
	c.drop()
}

// serveHTTP runs the standard handler for one request on its own goroutine
// and hands the response back to the event loop. last: the socket's last
// request (-max-requests-per-conn), answered with Connection: close.
func (s *Server) serveHTTP(c *conn, raw []byte, remote string, last bool) {
	defer s.httpWG.Done()
	defer func() { <-s.httpSem }()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	var resp []byte
	keep := false
	if err != nil {
		resp = httpErrorResponse(http.StatusBadRequest, command.ErrBadRequest, "malformed request")
	} else {
		req.RemoteAddr = remote
		w := &responseWriter{header: http.Header{}}
		func() {
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("http handler panicked", "path", req.URL.Path, "panic", p)
					w = &responseWriter{header: http.Header{}, status: http.StatusInternalServerError}
				}
			}()
			s.http.ServeHTTP(w, req)
		}()
		keep = !req.Close && req.ProtoAtLeast(1, 1) && !s.draining.Load() && !last
		resp = w.encode(req.Method == http.MethodHead, keep)
	}
	l := c.ls
	l.run(func() {
		if c.closed || c.closing {
			return
		}
		c.httpBusy = false
		_, _ = c.gc.Write(resp)
		if !keep {
			c.drop()
			return
		}
		c.deadline = c.httpDeadline(time.Now())
		switch out := c.gc.OutboundBuffered(); {
		case out > httpOutMax:
			c.drop()
		case out > httpOutPause:
			c.httpPause = true // the sweep resumes it once the client reads
		case c.gc.InboundBuffered() > 0:
			c.onHTTP()
		}
	})
}

// responseWriter buffers a handler's response; the event loop writes it.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// Flush satisfies http.Flusher; the whole response is written at the end.
func (w *responseWriter) Flush() {}

func (w *responseWriter) encode(head, keepAlive bool) []byte {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	h := w.header
	if h.Get("Content-Type") == "" && w.body.Len() > 0 {
		h.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if !keepAlive {
		h.Set("Connection", "close")
	}
	_ = h.Write(&b)
	if w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		b.WriteString("Content-Length: " + strconv.Itoa(w.body.Len()) + "\r\n")
	}
	b.WriteString("\r\n")
	if !head {
		b.Write(w.body.Bytes())
	}
	return b.Bytes()
}

// httpErrorResponse is a complete JSON error response that closes the
// connection, in the protocol's {"error","code"} shape.
func httpErrorResponse(status int, code, msg string) []byte {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, code})
	return []byte(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body))
}

package wsio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// onHTTP reads one request head from gnet's buffer and routes it: /ws to the
// upgrader on this loop, everything else to the net/http Handler off-loop.
func (c *conn) onHTTP() {
	if c.httpBusy {
		// Pipelined bytes wait until the current response is written;
		// bound them.
		if c.gc.InboundBuffered() > c.srv.cfg.MaxHeaderBytes+c.srv.cfg.MaxHTTPBody {
			c.drop()
		}
		return
	}
	buf, _ := c.gc.Peek(-1)
	h, complete, err := sniffRequest(buf, c.srv.cfg.MaxHeaderBytes)
	switch {
	case err == errHeaderTooLarge:
		c.rejectHTTP(http.StatusRequestHeaderFieldsTooLarge, "header_too_large", "request header too large")
		return
	case err != nil:
		c.rejectHTTP(http.StatusBadRequest, "bad_request", err.Error())
		return
	case !complete:
		return
	}
	if bytes.HasSuffix(h.path, []byte("/ws")) { // "/ws", or behind a path prefix
		if !bytes.Equal(h.method, []byte("GET")) {
			c.rejectHTTP(http.StatusMethodNotAllowed, "method_not_allowed", "use GET to open a WebSocket")
			return
		}
		c.upgrade(buf[:h.headerLen])
		return
	}
	if h.chunked {
		c.rejectHTTP(http.StatusLengthRequired, "length_required", "chunked request bodies are not supported; send Content-Length")
		return
	}
	if h.bodyLen > c.srv.cfg.MaxHTTPBody {
		c.rejectHTTP(http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
		return
	}
	total := h.headerLen + h.bodyLen
	if len(buf) < total {
		return // wait for the body
	}
	select {
	case c.srv.httpSem <- struct{}{}:
	default:
		c.rejectHTTP(http.StatusServiceUnavailable, "busy", "too many requests in flight")
		return
	}
	raw := bytes.Clone(buf[:total])
	_, _ = c.gc.Discard(total)
	c.httpBusy = true
	c.ls.stats.HTTPRequests.Add(1)
	c.srv.httpWG.Add(1)
	go c.srv.serveHTTP(c, raw)
}

// rejectHTTP answers a request the loop refuses by itself and closes.
func (c *conn) rejectHTTP(status int, code, msg string) {
	_, _ = c.gc.Write(httpErrorResponse(status, code, msg))
	c.drop()
}

// serveHTTP runs the standard handler for one request on its own goroutine
// and hands the response back to the event loop.
func (s *Server) serveHTTP(c *conn, raw []byte) {
	defer s.httpWG.Done()
	defer func() { <-s.httpSem }()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	var resp []byte
	keep := false
	if err != nil {
		resp = httpErrorResponse(http.StatusBadRequest, "bad_request", "malformed request")
	} else {
		req.RemoteAddr = c.remote()
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
		keep = !req.Close && req.ProtoAtLeast(1, 1) && !s.draining.Load()
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
		c.deadline = time.Now().Add(s.cfg.HandshakeTimeout).UnixNano()
		if c.gc.InboundBuffered() > 0 {
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

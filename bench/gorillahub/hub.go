package gorillahub

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultRoom is the room every connection starts in; it always exists.
const DefaultRoom = "global"

// Options configures a Hub. The zero value is usable.
type Options struct {
	// SendQueue is the number of frames buffered per client before the
	// client is dropped as too slow (default 1024).
	SendQueue int
	// PingInterval is how often the writer pings an idle client (default 25s).
	PingInterval time.Duration
}

// Hub is the baseline server. It implements http.Handler (routes /auth and
// /ws). Close it to drop every live connection.
type Hub struct {
	opts     Options
	upgrader websocket.Upgrader
	mux      *http.ServeMux

	mu      sync.Mutex
	rooms   map[string]map[*client]struct{}
	clients map[*client]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type client struct {
	hub  *Hub
	conn *websocket.Conn
	nick string
	room string // guarded by hub.mu
	send chan []byte
	once sync.Once
	done chan struct{}
}

// New returns a ready Hub.
func New(opts Options) *Hub {
	if opts.SendQueue <= 0 {
		opts.SendQueue = 1024
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 25 * time.Second
	}
	h := &Hub{
		opts:    opts,
		rooms:   map[string]map[*client]struct{}{DefaultRoom: {}},
		clients: map[*client]struct{}{},
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			CheckOrigin:     func(*http.Request) bool { return true },
		},
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("/auth", h.handleAuth)
	h.mux.HandleFunc("/ws", h.handleWS)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close drops every live connection and waits for their goroutines to end.
// New upgrades are refused afterwards.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.stop()
	}
	h.wg.Wait()
	return nil
}

// Conns reports the number of live connections.
func (h *Hub) Conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{1,31}$`)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Hub) handleAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST", "code": "method_not_allowed"})
		return
	}
	nick := r.URL.Query().Get("nickname")
	if nick == "" {
		nick = r.PostFormValue("nickname")
	}
	if !nameRE.MatchString(nick) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid nickname " + strconvQuote(nick), "code": "invalid_name"})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{
		"token":      nick,
		"nickname":   nick,
		"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// tokenFrom extracts the token and the subprotocol to echo.
func tokenFrom(r *http.Request) (token, echo string) {
	if p := r.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		parts := strings.Split(p, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		switch {
		case len(parts) >= 2 && parts[0] == "ics.v1":
			return parts[1], "ics.v1"
		case strings.HasPrefix(parts[0], "Bearer "):
			return strings.TrimPrefix(parts[0], "Bearer "), parts[0]
		default:
			return parts[0], parts[0]
		}
	}
	return r.URL.Query().Get("token"), ""
}

func (h *Hub) handleWS(w http.ResponseWriter, r *http.Request) {
	token, echo := tokenFrom(r)
	if !nameRE.MatchString(token) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or invalid token", "code": "unauthorized"})
		return
	}
	var hdr http.Header
	if echo != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {echo}}
	}
	conn, err := h.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		return // the upgrader already answered
	}
	c := &client{hub: h, conn: conn, nick: token, room: DefaultRoom,
		send: make(chan []byte, h.opts.SendQueue), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.rooms[DefaultRoom][c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	go c.writeLoop()
	go c.readLoop()
}

// stop closes the client once: removes it from its room and closes the socket.
func (c *client) stop() {
	c.once.Do(func() {
		h := c.hub
		h.mu.Lock()
		delete(h.clients, c)
		h.leaveLocked(c)
		h.mu.Unlock()
		close(c.done)
		_ = c.conn.Close()
	})
}

func (h *Hub) leaveLocked(c *client) {
	if m, ok := h.rooms[c.room]; ok {
		delete(m, c)
		if len(m) == 0 && c.room != DefaultRoom {
			delete(h.rooms, c.room)
		}
	}
}

type command struct {
	Type string `json:"type"`
	Args struct {
		Body string `json:"body"`
		Room string `json:"room"`
		Name string `json:"name"`
	} `json:"args"`
	ID string `json:"id,omitempty"`
}

type frame struct {
	Type     string `json:"type"`
	From     string `json:"from"`
	Body     string `json:"body"`
	Room     string `json:"room,omitempty"`
	Nickname string `json:"nickname,omitempty"`
	TS       int64  `json:"ts,omitempty"`
	Code     string `json:"code,omitempty"`
	ID       string `json:"id,omitempty"`
}

func (c *client) readLoop() {
	defer c.hub.wg.Done()
	defer c.stop()
	c.conn.SetReadLimit(64 << 10)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var cmd command
		if err := json.Unmarshal(data, &cmd); err != nil {
			c.reply(frame{Type: "error", From: "system", Body: "malformed JSON: " + err.Error(), Code: "bad_json"})
			continue
		}
		switch cmd.Type {
		case "message":
			c.hub.broadcast(c, cmd.Args.Body)
		case "createroom":
			c.hub.move(c, cmd.Args.Name, true, cmd.ID)
		case "switchroom":
			c.hub.move(c, cmd.Args.Room, false, cmd.ID)
		default:
			c.reply(frame{Type: "error", From: "system", Body: "unknown type " + strconvQuote(cmd.Type), Code: "unknown_type", ID: cmd.ID})
		}
	}
}

func (c *client) reply(f frame) {
	b, _ := json.Marshal(f)
	c.hub.mu.Lock()
	c.enqueueLocked(b)
	c.hub.mu.Unlock()
}

// enqueueLocked queues b for the writer; a client whose queue is full is
// dropped, as the classic gorilla chat example does. Caller holds hub.mu.
func (c *client) enqueueLocked(b []byte) {
	select {
	case <-c.done:
	case c.send <- b:
	default:
		go c.stop() // stop takes hub.mu
	}
}

func (h *Hub) broadcast(from *client, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, _ := json.Marshal(frame{Type: "message", From: from.nick, Body: body, Room: from.room, TS: time.Now().UnixMilli()})
	for m := range h.rooms[from.room] {
		m.enqueueLocked(b)
	}
}

func (h *Hub) move(c *client, room string, create bool, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, exists := h.rooms[room]
	var errf *frame
	switch {
	case !nameRE.MatchString(room):
		errf = &frame{Type: "error", From: "system", Body: "invalid room name " + strconvQuote(room), Code: "invalid_name", ID: id}
	case create && exists:
		errf = &frame{Type: "error", From: "system", Body: "room " + strconvQuote(room) + " exists", Code: "room_exists", ID: id}
	case !create && !exists:
		errf = &frame{Type: "error", From: "system", Body: "room " + strconvQuote(room) + " not found", Code: "room_not_found", ID: id}
	}
	if errf != nil {
		b, _ := json.Marshal(errf)
		c.enqueueLocked(b)
		return
	}
	h.leaveLocked(c)
	if !exists {
		h.rooms[room] = map[*client]struct{}{}
	}
	c.room = room
	h.rooms[room][c] = struct{}{}
	b, _ := json.Marshal(frame{Type: "joined", From: "system", Body: c.nick + " joined", Room: room, Nickname: c.nick})
	for m := range h.rooms[room] {
		m.enqueueLocked(b)
	}
}

func (c *client) writeLoop() {
	defer c.hub.wg.Done()
	t := time.NewTicker(c.hub.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case b := <-c.send:
			if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				c.stop()
				return
			}
		case <-t.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
				c.stop()
				return
			}
		}
	}
}

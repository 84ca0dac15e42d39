// Package gorillahub is the conventional baseline chat server used to calibrate
// the load generator and to compare ICS against: one goroutine pair per
// connection (github.com/gorilla/websocket), a mutex-guarded room map, and a
// buffered send channel per client drained by a writer goroutine that writes
// one WebSocket frame per message per member.
//
// It speaks only the subset of ICS protocol v1 the load generator needs:
// POST /auth (the token is the nickname, unsigned), GET /ws with the token in
// Sec-WebSocket-Protocol ("ics.v1, TOKEN", "TOKEN" or "Bearer TOKEN") or in
// ?token=, and the commands message, createroom and switchroom.
//
// It owns nothing outside the benchmark tree. It must never be used as a
// production server: there is no authentication, no rate limiting, no size
// or slow-consumer policy beyond dropping a client whose queue is full, and
// it must never be imported by the ICS server packages.
package gorillahub

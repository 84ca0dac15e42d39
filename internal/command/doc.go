// Package command is the protocol vocabulary of docs/PROTOCOL.md: it
// decodes client commands (fastjson, one reused parser per event loop) and
// encodes every server frame as a complete WebSocket text frame with
// append-style JSON, so each frame is built once and shared by all recipients.
//
// A chat message is the one frame built in two steps: the event loop encodes
// it open (OpenMessage), the room's shard seals it with the room's seq
// (SealMessage), in place.
//
// It owns no state beyond a Decoder's parser. It must never allocate on the
// hot path (decoding a command, encoding a message frame into a reused
// buffer) and never use reflection to produce JSON.
package command

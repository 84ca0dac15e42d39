package command

import "github.com/valyala/fastjson"

// Type is a client command type.
type Type uint8

// Client command types.
const (
	TypeUnknown Type = iota
	TypeMessage
	TypeSetNick
	TypeSwitchRoom
	TypeCreateRoom
	TypeListUsers
	TypeListRooms
	TypeExit
	TypeHistory
)

var typeNames = [...]string{"unknown", "message", "setnick", "switchroom", "createroom", "listusers", "listrooms", "exit", "history"}

func (t Type) String() string { return typeNames[t] }

// Command is one decoded client command. Its byte slices are borrowed from the
// decoder's input and parser: valid until the next Decode on the same Decoder.
type Command struct {
	Type Type
	// ID is the raw JSON of the optional id (a string with its quotes, or a
	// number), ready to be appended to a reply; nil when absent.
	ID []byte
	// Arg is the command's one string argument, unescaped: body for message,
	// nickname for setnick, room for switchroom, name for createroom,
	// epoch for history, after for listusers (nil when not given).
	Arg []byte
	// Watch is listrooms' optional args.watch: subscribe to (WatchOn) or
	// unsubscribe from (WatchOff) pushed `rooms` frames.
	Watch Watch
	// History arguments: Since is valid when HasSince; Limit is 1 to
	// HistoryMaxLimit (HistoryDefaultLimit when not given).
	Since    uint64
	HasSince bool
	HasEpoch bool
	Limit    int
}

// Watch is the optional watch argument of listrooms.
type Watch uint8

// Watch values.
const (
	WatchUnset Watch = iota // no watch argument: the subscription is unchanged
	WatchOn
	WatchOff
)

// DecodeError is a command that could not be decoded. Code is the protocol
// error code for the `error` frame; ID is echoed when it could be read.
type DecodeError struct {
	Code string
	Msg  string
	ID   []byte
}

func (e *DecodeError) Error() string { return e.Code + ": " + e.Msg }

// Decoder decodes commands. It is not safe for concurrent use: keep one per
// event loop.
type Decoder struct {
	p     fastjson.Parser
	err   DecodeError
	idBuf []byte
}

// Decode parses one command. On failure the returned *DecodeError is owned by
// the Decoder and valid until the next call.
func (d *Decoder) Decode(b []byte) (Command, *DecodeError) {
	v, err := d.p.ParseBytes(b)
	if err != nil {
		return Command{}, d.fail(ErrBadJSON, nil, "malformed JSON")
	}
	if v.Type() != fastjson.TypeObject {
		return Command{}, d.fail(ErrBadJSON, nil, "a command must be a JSON object")
	}
	var cmd Command
	if idv := v.Get("id"); idv != nil {
		switch idv.Type() {
		case fastjson.TypeString:
			// Re-encoded into a reused buffer: the echo is always
			// well-formed JSON and decoding stays allocation-free.
			// (fastjson's MarshalTo quotes escaped strings with
			// strconv, Go syntax such as "\x00", which is not JSON.)
			s, _ := idv.StringBytes()
			d.idBuf = AppendString(d.idBuf[:0], s)
			cmd.ID = d.idBuf
		case fastjson.TypeNumber:
			// fastjson takes number-like junk (NaN, inf, 1-2, 01,
			// .5) as numbers: echo only what is a JSON number.
			d.idBuf = idv.MarshalTo(d.idBuf[:0])
			if !validNumber(d.idBuf) {
				return Command{}, d.fail(ErrBadJSON, nil, "id is not a valid JSON number")
			}
			cmd.ID = d.idBuf
		case fastjson.TypeNull:
		default:
			return Command{}, d.fail(ErrBadArgs, nil, "id must be a string or a number")
		}
	}
	tv := v.Get("type")
	if tv == nil || tv.Type() != fastjson.TypeString {
		return Command{}, d.fail(ErrBadArgs, cmd.ID, "missing string field \"type\"")
	}
	t, _ := tv.StringBytes()
	cmd.Type = lookupType(t)
	var argName string
	switch cmd.Type {
	case TypeMessage:
		argName = "body"
	case TypeSetNick:
		argName = "nickname"
	case TypeSwitchRoom:
		argName = "room"
	case TypeCreateRoom:
		argName = "name"
	case TypeListRooms:
		return d.listRooms(v, cmd)
	case TypeListUsers:
		return d.listUsers(v.Get("args"), cmd)
	case TypeExit:
		return cmd, nil
	case TypeHistory:
		return d.history(v.Get("args"), cmd)
	default:
		return Command{}, d.fail(ErrUnknownType, cmd.ID, "unknown command type")
	}
	args := v.Get("args")
	if args == nil || args.Type() != fastjson.TypeObject {
		return Command{}, d.fail(ErrBadArgs, cmd.ID, "missing object field \"args\"")
	}
	av := args.Get(argName)
	if av == nil || av.Type() != fastjson.TypeString {
		d.err = DecodeError{Code: ErrBadArgs, ID: cmd.ID, Msg: missingArg[cmd.Type]}
		return Command{}, &d.err
	}
	cmd.Arg, _ = av.StringBytes()
	return cmd, nil
}

var missingArg = [...]string{
	TypeMessage:    "missing string argument \"body\"",
	TypeSetNick:    "missing string argument \"nickname\"",
	TypeSwitchRoom: "missing string argument \"room\"",
	TypeCreateRoom: "missing string argument \"name\"",
	TypeExit:       "",
}

// listRooms reads listrooms' optional args.watch (a boolean).
func (d *Decoder) listRooms(v *fastjson.Value, cmd Command) (Command, *DecodeError) {
	args := v.Get("args")
	if args == nil || args.Type() != fastjson.TypeObject {
		return cmd, nil
	}
	switch w := args.Get("watch"); {
	case w == nil:
	case w.Type() == fastjson.TypeTrue:
		cmd.Watch = WatchOn
	case w.Type() == fastjson.TypeFalse:
		cmd.Watch = WatchOff
	default:
		return Command{}, d.fail(ErrBadArgs, cmd.ID, "argument \"watch\" must be true or false")
	}
	return cmd, nil
}

// listUsers reads listusers' optional args: after (a name: list the names
// that sort after it) and limit (1 to UsersMaxLimit, the default).
func (d *Decoder) listUsers(args *fastjson.Value, cmd Command) (Command, *DecodeError) {
	cmd.Limit = UsersMaxLimit
	if args == nil || args.Type() != fastjson.TypeObject {
		return cmd, nil // listusers took no args before paging: anything else is ignored, as it was
	}
	if v := args.Get("after"); v != nil && v.Type() != fastjson.TypeNull {
		a, err := v.StringBytes()
		if err != nil {
			return Command{}, d.fail(ErrBadArgs, cmd.ID, "\"after\" must be a string (the last name of the previous page)")
		}
		cmd.Arg = a
	}
	if v := args.Get("limit"); v != nil && v.Type() != fastjson.TypeNull {
		n, err := v.Int()
		if v.Type() != fastjson.TypeNumber || err != nil || n < 1 || n > UsersMaxLimit {
			return Command{}, d.fail(ErrBadArgs, cmd.ID, "\"limit\" must be an integer from 1 to 1000")
		}
		cmd.Limit = n
	}
	return cmd, nil
}

// history reads the optional arguments of a history command. args may be
// nil (no args at all: the last HistoryDefaultLimit messages).
func (d *Decoder) history(args *fastjson.Value, cmd Command) (Command, *DecodeError) {
	cmd.Limit = HistoryDefaultLimit
	if args == nil || args.Type() == fastjson.TypeNull {
		return cmd, nil
	}
	if args.Type() != fastjson.TypeObject {
		return Command{}, d.fail(ErrBadArgs, cmd.ID, "\"args\" must be an object")
	}
	if v := args.Get("since"); v != nil && v.Type() != fastjson.TypeNull {
		n, err := v.Uint64()
		if v.Type() != fastjson.TypeNumber || err != nil {
			return Command{}, d.fail(ErrBadArgs, cmd.ID, "\"since\" must be a non-negative integer seq")
		}
		cmd.Since, cmd.HasSince = n, true
	}
	if v := args.Get("epoch"); v != nil && v.Type() != fastjson.TypeNull {
		e, err := v.StringBytes()
		if err != nil || len(e) > MaxEpochLen {
			return Command{}, d.fail(ErrBadArgs, cmd.ID, "\"epoch\" must be a string of at most 64 bytes")
		}
		cmd.Arg, cmd.HasEpoch = e, true
	}
	if v := args.Get("limit"); v != nil && v.Type() != fastjson.TypeNull {
		n, err := v.Int()
		if v.Type() != fastjson.TypeNumber || err != nil || n < 1 || n > HistoryMaxLimit {
			return Command{}, d.fail(ErrBadArgs, cmd.ID, "\"limit\" must be an integer from 1 to 100")
		}
		cmd.Limit = n
	}
	return cmd, nil
}

func (d *Decoder) fail(code string, id []byte, msg string) *DecodeError {
	d.err = DecodeError{Code: code, Msg: msg, ID: id}
	return &d.err
}

func lookupType(t []byte) Type {
	switch string(t) {
	case "message":
		return TypeMessage
	case "setnick":
		return TypeSetNick
	case "switchroom":
		return TypeSwitchRoom
	case "createroom":
		return TypeCreateRoom
	case "listusers":
		return TypeListUsers
	case "listrooms":
		return TypeListRooms
	case "exit":
		return TypeExit
	case "history":
		return TypeHistory
	}
	return TypeUnknown
}

// validNumber reports whether b is a JSON number (RFC 8259 §6):
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

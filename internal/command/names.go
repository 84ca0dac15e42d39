package command

// ValidName reports whether s follows the nickname/room rule
// ^[A-Za-z_][A-Za-z0-9_-]{1,31}$ (2 to 32 characters).
func ValidName[T string | []byte](s T) bool {
	if len(s) < 2 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ReservedName reports whether nickname s is one no user may hold: `system`
// in any case, so nobody can pose as the server.
func ReservedName[T string | []byte](s T) bool {
	const r = System
	if len(s) != len(r) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != r[i] {
			return false
		}
	}
	return true
}

// GlobalRoom is the room every client joins first; it always exists.
const GlobalRoom = "global"

// System is the `from` of frames the server itself originates.
const System = "system"

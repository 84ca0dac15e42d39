package shard

import (
	"slices"

	"github.com/ics-chat/ics/internal/command"
)

// userList answers listusers for one room without sorting or encoding the
// whole room on every call: once asked, it keeps the members' names sorted
// as they join, leave and rename (a binary search and a move, no sort), and
// keeps the encoded first page until the membership changes. A room nobody
// lists keeps nothing.
type userList struct {
	names []string // sorted
	first []byte   // AppendUsersBody of the first full page; nil when stale
}

// add and remove keep a listed room's names in order (u is nil for a
// room never listed).
func (u *userList) add(nick string) {
	if u == nil {
		return
	}
	u.first = nil
	i, _ := slices.BinarySearch(u.names, nick)
	u.names = slices.Insert(u.names, i, nick)
}

func (u *userList) remove(nick string) {
	if u == nil {
		return
	}
	u.first = nil
	if i, ok := slices.BinarySearch(u.names, nick); ok {
		u.names = slices.Delete(u.names, i, i+1)
	}
}

// listed returns r's name list, building it on the room's first listusers.
func listed(r *room) *userList {
	if r.users == nil {
		u := &userList{names: make([]string, 0, len(r.members))}
		for _, m := range r.members {
			u.names = append(u.names, m.Nick)
		}
		for nick := range r.remote { // members on other nodes (clustered)
			u.names = append(u.names, nick)
		}
		slices.Sort(u.names)
		r.users = u
	}
	return r.users
}

// page returns the body of the reply for (after, limit).
func (u *userList) page(after string, limit int) []byte {
	start := 0
	if after != "" {
		start, _ = slices.BinarySearch(u.names, after)
		if start < len(u.names) && u.names[start] == after {
			start++
		}
	}
	end := min(start+limit, len(u.names))
	more := end < len(u.names)
	if start == 0 && limit == command.UsersMaxLimit {
		if u.first == nil {
			u.first = command.AppendUsersBody(sized(u.names[:end]), u.names[:end], len(u.names), more)
		}
		return u.first
	}
	return command.AppendUsersBody(sized(u.names[start:end]), u.names[start:end], len(u.names), more)
}

// sized is a buffer big enough for a reply listing names (each twice),
// so encoding it does not grow the buffer step by step.
func sized(names []string) []byte {
	n := 96
	for _, s := range names {
		n += 2*len(s) + 4
	}
	return make([]byte, 0, n)
}

// listUsers replies to p with one page of its room's sorted member names.
func (s *Shard) listUsers(p Conn, after string, limit int, id []byte) {
	m := s.members[p]
	if m == nil {
		return
	}
	s.batch.Add(p, command.AppendUsers(nil, listed(m.room).page(after, limit), id))
}

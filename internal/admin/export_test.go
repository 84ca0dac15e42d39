package admin

// Watchers is the number of WatchStats streams running now (tests only).
func (s *Server) Watchers() int64 { return s.watchers.Load() }

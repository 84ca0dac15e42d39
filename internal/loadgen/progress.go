package loadgen

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress receives a run's one-line live status, about once a second.
// The nil progress drops them: library callers get none, the command
// line shows them on a spinner or as plain lines.
type progress func(line string)

func (p progress) print(line string) {
	if p != nil {
		p(line)
	}
}

func (p progress) printf(format string, a ...any) {
	if p != nil {
		p(fmt.Sprintf(format, a...))
	}
}

// progressEvery is how often progress is printed without a terminal.
const progressEvery = 5 * time.Second

// progressLines returns a progress that prints at most one line per
// every to w, prefixed with the time since the run began.
func progressLines(w io.Writer, every time.Duration) progress {
	var mu sync.Mutex
	start := time.Now()
	var last time.Time
	return func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= every {
			last = now
			fmt.Fprintf(w, "[%6.1fs] %s\n", now.Sub(start).Seconds(), line)
		}
	}
}

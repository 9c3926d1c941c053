// Package loglimit keeps a burst of one kind of log line (refused keys, slow-consumer drops)
// to one line per interval, counting the lines it held back so that the next one can say how
// many there were.
package loglimit

import (
	"sync"
	"time"
)

// Limit lets one log line through per interval. The zero Limit lets every line through.
type Limit struct {
	// Every is the least time between two lines.
	Every time.Duration

	mu   sync.Mutex
	last time.Time
	held int
}

// Allow reports whether a line may be logged at now and, when it may, how many lines were
// held back since the last one.
func (l *Limit) Allow(now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.Every {
		l.held++
		return false, 0
	}
	held, l.held, l.last = l.held, 0, now
	return true, held
}

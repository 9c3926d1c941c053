package bus

import (
	"sync"
	"time"
)

// dropLogInterval is the least time between two log lines about the bus's errors, so that a
// burst of slow-consumer drops is one line, not thousands.
const dropLogInterval = 10 * time.Second

// logLimit lets one log line through per interval and counts those it holds back.
type logLimit struct {
	every time.Duration

	mu   sync.Mutex
	last time.Time
	held int
}

// allow reports whether a line may be logged at now and, when it may, how many lines were
// held back since the last one.
func (l *logLimit) allow(now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.held++
		return false, 0
	}
	held, l.held, l.last = l.held, 0, now
	return true, held
}

package gql

import (
	"log/slog"
	"sync"
	"time"
)

// MaxClockSkew is how far a client's clock may be from the server's before meshd warns: the
// editor compares expiresAt with its own clock, so a wrong clock hides groups or ends sessions.
const MaxClockSkew = 60 * time.Second

// skewWarner logs clients whose clocks are off, at most once a minute so that a classroom of
// wrong clocks does not flood the log.
type skewWarner struct {
	mu   sync.Mutex
	last time.Time
}

// check warns when client differs from server by more than MaxClockSkew.
func (w *skewWarner) check(log *slog.Logger, source, node string, client, server time.Time) {
	skew := client.Sub(server)
	if skew.Abs() <= MaxClockSkew {
		return
	}
	w.mu.Lock()
	if server.Sub(w.last) < time.Minute && !w.last.IsZero() {
		w.mu.Unlock()
		return
	}
	w.last = server
	w.mu.Unlock()
	log.Warn("client clock differs from the server's; check the time source (NTP/chrony)",
		"source", source, "node", node, "skew", skew.Round(time.Second).String())
}

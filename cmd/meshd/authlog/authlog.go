// Package authlog holds the log of refused API keys: every refusal is counted, and at most
// one line per gap is logged, saying how many refusals went unlogged before it, so that a
// misconfigured classroom retrying does not flood the log.
package authlog

import (
	"log/slog"
	"time"

	"github.com/smalruby/meshd/broker/loglimit"
)

// Gap is the least time between two log lines about refused API keys: a misconfigured
// classroom of 40 editors retrying must not flood the log.
const Gap = 10 * time.Second

// Log counts every refused API key and logs one line per Gap.
type Log struct {
	log   *slog.Logger
	count func(transport string)
	now   func() time.Time
	limit loglimit.Limit
}

// New is a log of refused keys writing to log; count is called for every refusal, logged or
// not, with its transport.
func New(log *slog.Logger, count func(transport string)) *Log {
	return &Log{log: log, count: count, now: time.Now, limit: loglimit.Limit{Every: Gap}}
}

// Observe is gql's OnAuthFailure hook: a key refused on transport (http or realtime) from ip.
func (a *Log) Observe(transport, ip string) {
	a.count(transport)
	ok, suppressed := a.limit.Allow(a.now())
	if !ok {
		return
	}
	a.log.Warn("API key refused (check the editor's MESH_API_KEY against MESH_API_KEYS)", "transport", transport, "ip", ip, "not_logged_before", suppressed)
}

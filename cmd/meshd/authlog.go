package main

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smalruby/meshd/broker/loglimit"
)

// authLogGap is the least time between two log lines about refused API keys: a misconfigured
// classroom of 40 editors retrying must not flood the log.
const authLogGap = 10 * time.Second

// authFailureLog counts every refused API key and logs one line per authLogGap, saying how
// many refusals it did not log before it.
type authFailureLog struct {
	log   *slog.Logger
	count *prometheus.CounterVec
	now   func() time.Time
	limit loglimit.Limit
}

func newAuthFailureLog(log *slog.Logger, count *prometheus.CounterVec) *authFailureLog {
	return &authFailureLog{log: log, count: count, now: time.Now, limit: loglimit.Limit{Every: authLogGap}}
}

// observe is gql's OnAuthFailure hook.
func (a *authFailureLog) observe(transport, ip string) {
	a.count.WithLabelValues(transport).Inc()
	ok, suppressed := a.limit.Allow(a.now())
	if !ok {
		return
	}
	a.log.Warn("API key refused (check the editor's MESH_API_KEY against MESH_API_KEYS)", "transport", transport, "ip", ip, "not_logged_before", suppressed)
}

package gql

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	qerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/smalruby/meshd/broker"
)

// panicLogInterval is the least time between two log lines about recovered panics: a request
// that makes meshd panic, sent again and again, must not flood the log.
const panicLogInterval = 10 * time.Second

// panics recovers what panics while meshd answers a request — in a resolver, in graphql-go or
// in the HTTP handler. Each is counted and answered InternalError; one line per
// panicLogInterval is logged, without a stack, saying how many were not logged before it.
type panics struct {
	log *slog.Logger
	now func() time.Time

	count atomic.Uint64

	mu   sync.Mutex
	last time.Time
	held int
}

func newPanics(log *slog.Logger) *panics { return &panics{log: log, now: time.Now} }

// record counts a panic and logs it unless one was logged within panicLogInterval.
func (p *panics) record(where string, value any) {
	p.count.Add(1)
	p.mu.Lock()
	now := p.now()
	if !p.last.IsZero() && now.Sub(p.last) < panicLogInterval {
		p.held++
		p.mu.Unlock()
		return
	}
	held := p.held
	p.last, p.held = now, 0
	p.mu.Unlock()
	p.log.Error("panic recovered; the request was answered InternalError", "where", where, "panic", fmt.Sprint(value), "not_logged_before", held)
}

// LogPanic implements graphql-go's log.Logger. graphql-go's own logger prints a stack for
// every panic; MakePanicError, which graphql-go calls for the same panic, records it instead.
func (p *panics) LogPanic(context.Context, any) {}

// MakePanicError implements graphql-go's PanicHandler.
func (p *panics) MakePanicError(_ context.Context, value any) *qerrors.QueryError {
	p.record("resolver", value)
	return &qerrors.QueryError{Message: "Internal server error", ResolverError: &broker.Error{Kind: broker.InternalError, Message: "Internal server error"}}
}

// recover answers a panic in h, a handler of queries and mutations over HTTP, with
// InternalError, unless h had begun its answer (then the
// connection is closed, as net/http does).
func (p *panics) recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &wroteRecorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			p.record("http "+r.URL.Path, v)
			if rec.wrote {
				panic(http.ErrAbortHandler)
			}
			writeTransportError(w, http.StatusInternalServerError, string(broker.InternalError), "Internal server error")
		}()
		h.ServeHTTP(rec, r)
	})
}

// wroteRecorder remembers whether an answer was begun.
type wroteRecorder struct {
	http.ResponseWriter
	wrote bool
}

func (w *wroteRecorder) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *wroteRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush, deadlines).
func (w *wroteRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

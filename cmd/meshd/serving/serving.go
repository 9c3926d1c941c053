// Package serving holds how every listener of meshd serves HTTP — the API, the console,
// metrics and pprof: connections drawn from one connection budget, the same header, body,
// answer and idle timeouts, and side listeners beside the API.
package serving

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/connbudget"
)

// Timeouts bound a request: Read its header and body, Write its answer, Idle a keep-alive
// connection between requests.
type Timeouts struct {
	Read, Write, Idle time.Duration
}

// Serving is how meshd's HTTP servers are made.
type Serving struct {
	budget *connbudget.Budget
	t      Timeouts
	log    *slog.Logger
}

// New is servers whose connections budget follows, with timeouts t, logging to log.
func New(budget *connbudget.Budget, t Timeouts, log *slog.Logger) *Serving {
	return &Serving{budget: budget, t: t, log: log}
}

// Server is an HTTP server of h with those timeouts, whose connections the budget follows;
// its listener must be wrapped by the budget's Listen.
func (s *Serving) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           deadlines(h, s.t.Read, s.t.Write),
		ReadHeaderTimeout: s.t.Read,
		IdleTimeout:       s.t.Idle,
		ConnState:         s.budget.Track,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Side serves h on a listener of its own beside the API (console, metrics, pprof) until ctx
// ends, and returns the address. It listens before it returns, so that an address in use
// stops meshd instead of leaving it without the listener.
func (s *Serving) Side(ctx context.Context, name, addr string, h http.Handler) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	srv := s.Server(h)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(s.budget.Listen(ln)); err != nil && err != http.ErrServerClosed {
			s.log.Error(name+" server failed", "addr", addr, "err", err)
		}
	}()
	return ln.Addr(), nil
}

// deadlines bounds how long a request's body may take to arrive and its answer to leave, so
// that a body trickled byte by byte or an answer never read holds its connection no longer
// than that. The read deadline ends with the body: a handler that runs long after it (a
// query up to -request-timeout, the console's event stream) is not cut by it. WebSocket
// upgrades are left alone: a socket keeps its own deadlines.
func deadlines(h http.Handler, read, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			rc := http.NewResponseController(w)
			now := time.Now()
			_ = rc.SetWriteDeadline(now.Add(write))
			if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
				_ = rc.SetReadDeadline(now.Add(read))
				r.Body = &bodyDeadline{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// bodyDeadline lifts the read deadline once the body has been read to its end.
type bodyDeadline struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

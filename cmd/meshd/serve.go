package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/cmd/meshd/connbudget"
	"github.com/smalruby/meshd/cmd/meshd/editor"
	"github.com/smalruby/meshd/cmd/meshd/metrics"
)

// routes puts meshd's endpoints together: the API, health, metrics and an optional editor
// served from the same origin.
func routes(cfg *config, api http.Handler, brk broker.Service, m *metrics.Metrics, log *slog.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		defer fmt.Fprintln(w, readBuildInfo()) // the version, last, whatever the answer
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := brk.Ready(ctx); err != nil {
			// Only probes read this path; the API itself never answers 503 (spec §1.1).
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if cfg.metricsAddr == "" {
		mux.Handle("GET /metrics", m.Handler())
	}
	if cfg.staticDir == "" {
		mux.Handle("/", api)
		return mux, nil
	}
	ed, err := editor.New(cfg.staticDir, editor.Config{PublicURL: cfg.publicURL, DataDir: cfg.dataDir, Log: log})
	if err != nil {
		return nil, fmt.Errorf("-static: %w", err)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/graphql" || strings.HasPrefix(r.URL.Path, "/graphql/") || r.Method == http.MethodOptions {
			api.ServeHTTP(w, r)
			return
		}
		ed.ServeHTTP(w, r)
	})
	return mux, nil
}

// serving is how every listener of meshd serves HTTP — the API, the console, metrics and
// pprof: one connection budget, and the same header, body, answer and idle timeouts.
type serving struct {
	budget            *connbudget.Budget
	read, write, idle time.Duration
	log               *slog.Logger
}

func newServing(cfg *config, log *slog.Logger) *serving {
	return &serving{
		budget: connbudget.New(connbudget.Cap(cfg.maxOpenConns), cfg.maxConnsPerAddr, cfg.trustedProxies, log),
		read:   cfg.readTimeout, write: cfg.writeTimeout, idle: cfg.idleTimeout,
		log: log,
	}
}

// server is an HTTP server of h with those timeouts, whose connections the budget follows.
func (s *serving) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           deadlines(h, s.read, s.write),
		ReadHeaderTimeout: s.read,
		IdleTimeout:       s.idle,
		ConnState:         s.budget.Track,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// side serves h on a listener of its own beside the API (console, metrics, pprof) until ctx
// ends, and returns the address. It listens before it returns, so that an address in use
// stops meshd instead of leaving it without the listener.
func (s *serving) side(ctx context.Context, name, addr string, h http.Handler) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	srv := s.server(h)
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

func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
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

// secretFlags are the flags whose values pprof's cmdline must not show (prefer their MESH_*
// variables: a command line is visible to every local user).
var secretFlags = map[string]bool{"api-keys": true, "admin-keys": true, "secret-key": true, "nats-token": true, "cluster-secret": true}

// redactedCmdline is pprof's cmdline with the values of secret flags replaced.
func redactedCmdline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, strings.Join(redact(os.Args), "\x00"))
}

func redact(args []string) []string {
	out := make([]string, len(args))
	hide := false
	for i, a := range args {
		switch {
		case hide:
			out[i], hide = "REDACTED", false
			continue
		case a == "--":
			copy(out[i:], args[i:])
			return out
		}
		out[i] = a
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && secretFlags[name] {
			if inline {
				out[i] = a[:strings.Index(a, "=")+1] + "REDACTED"
			} else {
				hide = true
			}
		}
	}
	return out
}

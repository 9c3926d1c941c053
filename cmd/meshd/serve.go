package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/smalruby/meshd/broker"
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

// secretFlags are the flags whose values pprof's cmdline must not show (prefer their MESH_*
// variables: a command line is visible to every local user).
var secretFlags = map[string]bool{"api-keys": true, "admin-keys": true, "secret-key": true, "nats-token": true, "cluster-secret": true}

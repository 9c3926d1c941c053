package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smalruby/meshd/broker"
)

// routes puts meshd's endpoints together: the API, health, metrics and an optional editor
// served from the same origin.
func routes(cfg *config, api http.Handler, brk broker.Service, m *metrics, log *slog.Logger) (http.Handler, error) {
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
		mux.Handle("GET /metrics", m.handler())
	}
	if cfg.staticDir == "" {
		mux.Handle("/", api)
		return mux, nil
	}
	ed, err := newEditor(cfg.staticDir, cfg.publicURL, cfg.trustedProxies, log)
	if err != nil {
		return nil, err
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

// sideServer runs a secondary listener (metrics, pprof) until ctx ends. It listens before it
// returns, so that an address in use stops meshd instead of leaving it without the listener.
func sideServer(ctx context.Context, log *slog.Logger, name, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info(name+" listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error(name+" server failed", "addr", addr, "err", err)
		}
	}()
	return nil
}

func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// certificate holds the TLS certificate and reloads it on SIGHUP, so that a renewed
// certificate is served without dropping a lesson's connections.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certificate) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s: %w", c.certFile, err)
	}
	c.current.Store(&cert)
	return nil
}

// reloadOnHangup reloads the certificate on every SIGHUP until ctx ends; a certificate that
// fails to load is logged and the old one kept.
func (c *certificate) reloadOnHangup(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := c.reload(); err != nil {
					log.Error("TLS certificate reload failed; keeping the old one", "err", err)
					continue
				}
				log.Info("TLS certificate reloaded", "cert", c.certFile)
			}
		}
	}()
}

func (c *certificate) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

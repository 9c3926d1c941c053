package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	runtimemetrics "runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/gql/console"
)

// adminKeyFile is where a generated admin key is kept, in the data directory.
const adminKeyFile = "admin-key"

// minAdminKeyLen keeps configured admin keys out of guessing range.
const minAdminKeyLen = 16

// consoleServer is the teacher's console as meshd runs it: on the main listener, or on its
// own (-console-addr).
type consoleServer struct {
	c         *console.Console
	log       *slog.Logger
	generated string // the file of a generated key, "" when keys are configured
	own       net.Listener
}

// commitLog remembers the store's commit failures for the console.
type commitLog struct {
	mu      sync.Mutex
	errors  uint64
	lastErr string
	lastAt  time.Time
}

// chain returns an OnCommit hook that records failures and then calls next.
func (l *commitLog) chain(next func(time.Duration, int, error)) func(time.Duration, int, error) {
	return func(d time.Duration, ops int, err error) {
		if err != nil {
			l.mu.Lock()
			l.errors++
			l.lastErr, l.lastAt = err.Error(), time.Now()
			l.mu.Unlock()
		}
		next(d, ops, err)
	}
}

func (l *commitLog) health(kind, path string) console.StoreHealth {
	h := console.StoreHealth{Kind: kind}
	if kind == "bbolt" {
		h.Path = path
		if fi, err := os.Stat(path); err == nil {
			h.Bytes = fi.Size()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h.CommitErrors = l.errors
	if l.lastErr != "" {
		at := l.lastAt
		h.LastError, h.LastErrorAt = l.lastErr, &at
	}
	return h
}

// newConsole starts the console: admin keys from the settings or, when none is set, the key
// kept in the data directory (generated on first start).
func newConsole(ctx context.Context, cfg *config, log *slog.Logger, brk *broker.Broker, svc broker.Service, api *gql.Server, m *metrics, commits *commitLog, admin map[string]http.Handler) (*consoleServer, error) {
	cs := &consoleServer{log: log}
	keys := cfg.adminKeys
	if len(keys) == 0 {
		key, path, err := loadAdminKey(cfg.dataDir)
		if err != nil {
			return nil, err
		}
		keys, cs.generated = []string{key}, path
		for _, k := range cfg.apiKeys {
			if k == key {
				return nil, fmt.Errorf("the admin key in %s is also an API key: delete the file or change MESH_API_KEYS", path)
			}
		}
	}
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshd_console_auth_failures_total",
		Help: "Credentials the console and /statusz refused, by reason (missing, wrong, api_key, ticket, csrf).",
	}, []string{"reason"})
	m.reg.MustRegister(failures)
	started := time.Now()
	c, err := console.New(console.Options{
		Broker:        brk,
		Service:       svc,
		Subscriptions: api.GroupSubscriptions,
		Health: func() console.Health {
			h := serverHealth(m, api, started)
			h.Store = commits.health(cfg.storeKind, filepath.Join(cfg.dataDir, "meshd.db"))
			return h
		},
		AdminKeys:     keys,
		Admin:         admin,
		APIKeys:       cfg.apiKeys,
		OnAuthFailure: func(reason string) { failures.WithLabelValues(reason).Inc() },
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	cs.c = c
	// Live views end when shutdown begins, so that they do not hold the HTTP server open.
	context.AfterFunc(ctx, c.Close)
	if cfg.consoleAddr != "" {
		ln, err := net.Listen("tcp", cfg.consoleAddr)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("console: listen on %s: %w", cfg.consoleAddr, err)
		}
		cs.own = ln
		srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("console server failed", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	return cs, nil
}

// wrap serves the console's paths on the main listener unless it has its own.
func (cs *consoleServer) wrap(next http.Handler) http.Handler {
	if cs.own != nil {
		return next
	}
	h := cs.c.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/statusz" || p == "/console" || strings.HasPrefix(p, "/console/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// announce logs where the console is; with a generated key it logs a one-time login link.
func (cs *consoleServer) announce(scheme string, mainAddr net.Addr) {
	addr := mainAddr
	if cs.own != nil {
		addr, scheme = cs.own.Addr(), "http"
	}
	base := scheme + "://" + dialable(addr.String())
	if cs.generated == "" {
		cs.log.Info("console listening", "url", base+"/console/", "admin_keys", "MESH_ADMIN_KEYS")
		return
	}
	// The link logs in once; after that the key in the file does.
	cs.log.Info("console listening", "login", base+cs.c.LoginPath(), "admin_key_file", cs.generated)
}

// Close stops the console's sampling.
func (cs *consoleServer) Close() { cs.c.Close() }

// dialable turns a listening address into one a browser on this machine can open.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// loadAdminKeyFile reads the admin key kept in dir; "" when there is none.
func loadAdminKeyFile(dir string) (key, path string, err error) {
	path = filepath.Join(dir, adminKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", path, nil
	}
	if err != nil {
		return "", path, fmt.Errorf("read admin key: %w", err)
	}
	return strings.TrimSpace(string(b)), path, nil
}

// loadAdminKey returns the admin key kept in dir and its file, generating it on first start.
func loadAdminKey(dir string) (key, path string, err error) {
	if key, path, err = loadAdminKeyFile(dir); err != nil || key != "" {
		return key, path, err
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", "", fmt.Errorf("generate admin key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create data directory: %w", err)
	}
	key = "meshd-admin-" + hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write admin key: %w", err)
	}
	return key, path, nil
}

// memorySamples are the runtime metrics the console shows.
var memorySamples = []string{"/memory/classes/total:bytes", "/memory/classes/heap/objects:bytes"}

// serverHealth reads the server's own numbers for the console.
func serverHealth(m *metrics, api *gql.Server, started time.Time) console.Health {
	rt := api.RealtimeStats()
	h := console.Health{
		Version:       readBuildInfo().Version,
		Started:       started,
		Sockets:       rt.Connections,
		Subscriptions: rt.Subscriptions,
		Errors:        map[string]uint64{},
		CPUSeconds:    cpuSeconds(),
		Goroutines:    runtime.NumGoroutine(),
	}
	samples := make([]runtimemetrics.Sample, len(memorySamples))
	for i, name := range memorySamples {
		samples[i].Name = name
	}
	runtimemetrics.Read(samples)
	if samples[0].Value.Kind() == runtimemetrics.KindUint64 {
		h.MemoryBytes = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == runtimemetrics.KindUint64 {
		h.HeapBytes = samples[1].Value.Uint64()
	}
	ch := make(chan prometheus.Metric, 64)
	go func() {
		m.operations.Collect(ch)
		close(ch)
	}()
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil || d.Counter == nil {
			continue
		}
		n := uint64(d.Counter.GetValue())
		h.Requests += n
		for _, l := range d.Label {
			if l.GetName() == "outcome" && l.GetValue() != "ok" {
				h.Errors[l.GetValue()] += n
			}
		}
	}
	return h
}

// validateAdminKeys checks that admin keys are long enough and never a pupils' API key.
func (c *config) validateAdminKeys() []error {
	var errs []error
	for _, k := range c.adminKeys {
		if len(k) < minAdminKeyLen {
			errs = append(errs, fmt.Errorf("-admin-keys: every admin key needs at least %d characters", minAdminKeyLen))
		}
		for _, a := range c.apiKeys {
			if k == a {
				errs = append(errs, errors.New("-admin-keys: an admin key must not be an API key (the pupils' key is compiled into the editor and public)"))
			}
		}
	}
	return errs
}

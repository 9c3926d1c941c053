package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	runtimemetrics "runtime/metrics"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/metrics"
	"github.com/smalruby/meshd/cmd/meshd/running"
	"github.com/smalruby/meshd/cmd/meshd/serving"
	"github.com/smalruby/meshd/gql"
)

// consoleServer is the teacher's console as meshd runs it: on the main listener, or on its
// own (-console-addr).
type consoleServer struct {
	c         *console.Console
	log       *slog.Logger
	generated bool     // the key was generated: no admin keys are configured
	keyFile   string   // the file the generated key is kept in, "" with -store memory
	own       net.Addr // the console's own listener (-console-addr), nil on the main one
	publicURL string   // meshd's public URL (-public-url), "" when unset
	bases     atomic.Pointer[[]string]
}

// storeHealth describes the store for the console: its kind, file and size, and its
// failed commits as the broker counts them.
func storeHealth(kind, path string, st broker.Stats) console.StoreHealth {
	h := console.StoreHealth{Kind: kind, CommitErrors: st.CommitErrors}
	if kind == "bbolt" {
		h.Path = path
		if fi, err := os.Stat(path); err == nil {
			h.Bytes = fi.Size()
		}
	}
	if st.LastCommitError != "" {
		at := st.LastCommitErrorAt
		h.LastError, h.LastErrorAt = st.LastCommitError, &at
	}
	return h
}

// newConsole starts the console: admin keys from the settings or, when none is set, the key
// kept in the data directory (generated on first start).
func newConsole(ctx context.Context, cfg *config, srvs *serving.Serving, instance string, log *slog.Logger, local *broker.Broker, svc broker.Service, api *gql.Server, m *metrics.Metrics, ended *console.Ended, admin map[string]http.Handler) (*consoleServer, error) {
	cs := &consoleServer{log: log, publicURL: cfg.publicURL}
	keys := cfg.adminKeys
	if len(keys) == 0 {
		// With -store memory nothing outlives the process, the admin key neither: only the
		// login link in the log opens the console.
		var key, path string
		var err error
		if cfg.storeKind == "memory" {
			key, err = console.NewAdminKey()
		} else {
			key, path, err = console.LoadAdminKey(cfg.dataDir)
		}
		if err != nil {
			return nil, err
		}
		keys, cs.generated, cs.keyFile = []string{key}, true, path
		for _, k := range cfg.apiKeys {
			if k == key {
				return nil, fmt.Errorf("the admin key in %s is also an API key: delete the file or change MESH_API_KEYS", path)
			}
		}
	}
	started := time.Now()
	c, err := console.New(console.Options{
		Service:       svc,
		Snapshot:      local.Snapshot,
		Config:        local.Config(),
		Ended:         ended,
		Subscriptions: api.GroupSubscriptions,
		Health: func() console.Health {
			h := serverHealth(api, started)
			h.Store = storeHealth(cfg.storeKind, filepath.Join(cfg.dataDir, "meshd.db"), svc.Stats())
			return h
		},
		AdminKeys:      keys,
		SessionSecret:  cfg.secret,
		Admin:          admin,
		APIKeys:        cfg.apiKeys,
		LinkBases:      cs.knownBases,
		TrustedProxies: cfg.trustedProxies,
		OnAuthFailure:  m.ObserveConsoleAuthFailure,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	cs.c = c
	// Live views end when shutdown begins, so that they do not hold the HTTP server open.
	context.AfterFunc(ctx, c.Close)
	if cfg.consoleAddr != "" {
		if cs.own, err = srvs.Side(ctx, "console", cfg.consoleAddr, running.Stamp(c.Handler(), instance)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return cs, nil
}

// wrap serves the console's paths on the main listener unless it has its own.
func (cs *consoleServer) wrap(next http.Handler) http.Handler {
	if cs.own != nil {
		return next
	}
	return cs.c.Wrap(next)
}

// where is the scheme and address the console listens on: its own, else the main listener's.
func (cs *consoleServer) where(scheme string, mainAddr net.Addr) (string, net.Addr) {
	if cs.own != nil {
		return "http", cs.own
	}
	return scheme, mainAddr
}

// base is the console's base URL on this machine.
func (cs *consoleServer) base(scheme string, mainAddr net.Addr) string {
	scheme, addr := cs.where(scheme, mainAddr)
	return scheme + "://" + dialable(addr.String())
}

// announce logs where the console is; with a generated key it logs a one-time login link at
// each of its addresses (one ticket for all of them). From then on meshd console-link hands
// out fresh links at the same addresses.
func (cs *consoleServer) announce(scheme string, mainAddr net.Addr) {
	bases := cs.linkBases(scheme, mainAddr)
	cs.bases.Store(&bases)
	if !cs.generated {
		cs.log.Info("console listening", "url", bases[0]+"/console/", "admin_keys", "MESH_ADMIN_KEYS")
		return
	}
	// The link logs in once; after that the key in the file does.
	links := cs.c.LoginLinks(bases)
	if cs.keyFile == "" {
		cs.log.Info("console listening", "login", links[0], "admin_key", "in memory only (-store memory)")
	} else {
		cs.log.Info("console listening", "login", links[0], "admin_key_file", cs.keyFile)
	}
	for _, l := range links[1:] {
		cs.log.Info("console login link", "login", l)
	}
}

// linkBases are the base URLs the console's login links name: this machine's first, then the
// public URL when the console is on the main listener, then each of the machine's LAN
// addresses the console listens on — the link to 127.0.0.1 is of no use from the teacher's
// laptop when meshd runs on a headless Pi.
func (cs *consoleServer) linkBases(scheme string, mainAddr net.Addr) []string {
	bases := []string{cs.base(scheme, mainAddr)}
	scheme, addr := cs.where(scheme, mainAddr)
	if cs.own == nil && cs.publicURL != "" {
		bases = append(bases, strings.TrimSuffix(cs.publicURL, "/"))
	}
	return append(bases, lanBases(scheme, addr)...)
}

// knownBases are the login links' base URLs once announce has found them; the console's
// LinkPath asks for them.
func (cs *consoleServer) knownBases() []string {
	if b := cs.bases.Load(); b != nil {
		return *b
	}
	return nil
}

// lanBases returns scheme://IP:port for each of the machine's LAN addresses when addr listens
// on every address, else nothing.
func lanBases(scheme string, addr net.Addr) []string {
	host, port, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err != nil || host != "" && (ip == nil || !ip.IsUnspecified()) {
		return nil
	}
	var out []string
	for _, h := range lanHosts() {
		out = append(out, scheme+"://"+net.JoinHostPort(h, port))
	}
	return out
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

// memorySamples are the runtime metrics the console shows.
var memorySamples = []string{"/memory/classes/total:bytes", "/memory/classes/heap/objects:bytes"}

// serverHealth reads the server's own numbers for the console.
func serverHealth(api *gql.Server, started time.Time) console.Health {
	rt, ops := api.RealtimeStats(), api.OperationStats()
	h := console.Health{
		Version:       readBuildInfo().Version,
		Started:       started,
		Sockets:       rt.Connections,
		Subscriptions: rt.Subscriptions,
		Requests:      ops.Total,
		Errors:        ops.Failed,
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
	return h
}

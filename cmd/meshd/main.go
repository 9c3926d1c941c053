// Command meshd serves the Mesh v2 realtime GraphQL API of the Smalruby 3 editor on
// premises: one binary, state in memory, persisted to one bbolt file, subscriptions over an
// embedded NATS server. Package main holds the settings, the commands and the wiring; what it
// wires (listeners, the connection budget, metrics, TLS, systemd, the console, the editor) is
// in the packages beside it.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/cmd/meshd/authlog"
	"github.com/smalruby/meshd/cmd/meshd/connbudget"
	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/keyfile"
	"github.com/smalruby/meshd/cmd/meshd/metrics"
	"github.com/smalruby/meshd/cmd/meshd/procs"
	"github.com/smalruby/meshd/cmd/meshd/profiling"
	"github.com/smalruby/meshd/cmd/meshd/running"
	"github.com/smalruby/meshd/cmd/meshd/sdnotify"
	"github.com/smalruby/meshd/cmd/meshd/serving"
	"github.com/smalruby/meshd/cmd/meshd/tlscert"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/store"
)

// run starts meshd and serves until ctx ends, then shuts down gracefully. -h writes to stdout,
// logs go to stderr.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	env := lookup(environ)
	cfg, err := parseConfig(args, env, stdout)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	for _, w := range append(unknownVariables(environ), cfg.warnings()...) {
		log.Warn(w)
	}
	if cfg.memoryLimitMiB > 0 {
		setMemoryLimit(cfg.memoryLimitMiB)
		log.Info("memory limit set", "mib", cfg.memoryLimitMiB)
	}
	// One processor while lightly loaded, all of them when busy; GOMAXPROCS set by the
	// operator fixes them instead.
	if cpuKnown && env("GOMAXPROCS") == "" {
		go procs.Run(ctx, procs.Default(runtime.GOMAXPROCS(0)), procs.Interval, cpuSeconds, log)
	}
	// SIGHUP is handled from the start, whatever the configuration.
	var tlsCert atomic.Pointer[tlscert.Certificate]
	tlscert.ReloadOnHangup(ctx, log, tlsCert.Load)
	sd, err := sdnotify.New(env)
	if err != nil {
		return err
	}
	defer sd.Close()
	bi := readBuildInfo()
	m := metrics.New(metrics.Build{Version: bi.Version, Revision: bi.Revision, Go: bi.Go})
	// The console lists the groups that ended; the broker tells of them from its start.
	ended := new(console.Ended)
	budget := connbudget.New(connbudget.Cap(cfg.maxOpenConns), cfg.maxConnsPerAddr, cfg.trustedProxies, log)
	m.WatchBudget(budget)
	srvs := serving.New(budget, serving.Timeouts{Read: cfg.readTimeout, Write: cfg.writeTimeout, Idle: cfg.idleTimeout}, log)
	// The side listeners come first: an address in use stops meshd before it touches the data
	// directory.
	for _, side := range []struct {
		name, addr string
		h          http.Handler
	}{{"metrics", cfg.metricsAddr, m.Handler()}, {"pprof", cfg.pprofAddr, profiling.Handler(secretFlags)}} {
		if side.addr == "" {
			continue
		}
		addr, err := srvs.Side(ctx, side.name, side.addr, side.h)
		if err != nil {
			return err
		}
		log.Info(side.name+" listening", "addr", addr.String())
	}
	if err := cfg.cluster.prepare(cfg); err != nil {
		return err
	}
	if needsSecret(cfg) {
		if cfg.secret, err = loadSecret(cfg.dataDir); err != nil {
			return err
		}
	}
	domainMode, err := broker.ParseDomainMode(cfg.domainMode)
	if err != nil {
		return err
	}
	st, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := bus.New(bus.Options{ListenAddr: cfg.natsListen, Token: cfg.natsToken, Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	brk, local, err := newService(ctx, cfg, log, broker.Options{
		Config: broker.Config{
			HostHeartbeatInterval:   seconds(cfg.hostInterval),
			HostHeartbeatTTL:        seconds(cfg.hostTTL),
			MemberHeartbeatInterval: seconds(cfg.memberInterval),
			MemberTTL:               seconds(cfg.memberTTL),
			MaxConnectionTime:       seconds(cfg.maxConnection),
			DeadGroupGrace:          seconds(cfg.deadGroupGrace),
			EventTTL:                seconds(cfg.eventTTL),
			PollingInterval:         seconds(cfg.pollingInterval),
			EventPageLimit:          cfg.eventPageLimit,
			StatusFlushInterval:     cfg.flushInterval,
			SweepInterval:           cfg.sweepInterval,
		},
		Store:      st,
		Bus:        b,
		Logger:     log,
		OnCommit:   m.ObserveCommit,
		OnGroupEnd: ended.Add,
	})
	if err != nil {
		return err
	}
	defer brk.Close()
	api, err := gql.New(brk, gql.Config{
		APIKeys:         cfg.apiKeys,
		AllowedOrigins:  cfg.allowedOrigins,
		DomainMode:      domainMode,
		Secret:          cfg.secret,
		TrustedProxies:  cfg.trustedProxies,
		MaxRequestBytes: cfg.maxRequestBytes,
		RequestTimeout:  cfg.requestTimeout,
		Limits:          cfg.limits,
		Logger:          log,
		OnOperation:     m.ObserveOperation,
		OnAuthFailure:   authlog.New(log, m.ObserveAuthFailure).Observe,
		Realtime: gql.RealtimeConfig{
			KeepAlive:                       seconds(cfg.keepalive),
			ConnectionTimeoutMS:             cfg.connTimeoutMS,
			MaxFrameBytes:                   cfg.maxFrameBytes,
			MaxConnections:                  cfg.maxConnections,
			MaxSubscriptions:                cfg.maxSubs,
			MaxGroupSubscriptionsPerAddress: cfg.maxGroupSubsPerAddr,
			SendQueue:                       cfg.sendQueue,
			SendQueueBytes:                  cfg.sendQueueBytes,
			OnDelivery:                      m.ObserveDelivery,
			OnSocketOpen:                    m.ObserveSocketOpen,
			OnSocketClose:                   m.ObserveSocketClose,
		},
	})
	if err != nil {
		return err
	}
	m.Watch(brk, b, api)
	m.WatchCluster(brk)
	m.WatchStore(st)
	instance, err := running.NewInstance()
	if err != nil {
		return err
	}
	cons, err := newConsole(ctx, cfg, srvs, instance, log, local, brk, api, m, ended, backupEndpoint(st, log))
	if err != nil {
		return err
	}
	defer cons.Close()

	handler, err := routes(cfg, api.Handler(), brk, m, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.listenAddr, err)
	}
	ln = gql.BatchingListener(budget.Listen(ln))
	srv := srvs.Server(running.Stamp(m.CountResponses(cons.wrap(handler)), instance))
	scheme := "http"
	if cfg.tlsCert != "" {
		cert, err := tlscert.Load(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			ln.Close()
			return err
		}
		tlsCert.Store(cert)
		srv.TLSConfig = cert.Config()
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("meshd listening", "addr", ln.Addr().String(), "scheme", scheme, "store", cfg.storeKind, "data_dir", cfg.dataDir, "domain_mode", domainMode, "api_keys", len(cfg.apiKeys), "version", bi.Version)
	cons.announce(scheme, ln.Addr())
	// meshd backup and meshd status find this meshd, and no other, from the data directory.
	rec := running.Record{URL: cons.base(scheme, ln.Addr()), Instance: instance, PID: os.Getpid()}
	if err := rec.Write(cfg.dataDir); err != nil {
		log.Warn("meshd backup and meshd status will not find this meshd", "err", err)
	}
	defer rec.Forget(cfg.dataDir)
	if err := sd.Notify("READY=1\nSTATUS=serving on " + ln.Addr().String()); err != nil {
		log.Warn("could not tell systemd meshd is ready", "err", err)
	}
	// A meshd whose broker no longer answers, or whose store commits stall, stops pinging the
	// watchdog and is restarted.
	sd.KeepAlive(ctx, log, func() error {
		brk.Stats()
		return local.Stalled()
	})

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sd.Notify("STOPPING=1")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	handover(sctx, brk, log)
	// Sockets are hijacked, so http.Server.Shutdown does not see them: close them first.
	if err := api.Shutdown(sctx); err != nil {
		log.Warn("realtime shutdown incomplete", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	return brk.Close()
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func newLogger(cfg *config, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.logLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// stateFile is the name of the state file in the data directory.
const stateFile = "meshd.db"

func openStore(cfg *config, log *slog.Logger) (store.Store, error) {
	if cfg.storeKind == "memory" || cfg.cluster.enabled() {
		return store.NewMemory(), nil
	}
	return store.OpenBolt(filepath.Join(cfg.dataDir, stateFile), store.BoltOptions{
		OnUpgrade: func(from, to int, kept string) {
			log.Info("state file upgraded to a new format version; the original is kept", "from", from, "to", to, "kept", kept)
		},
	})
}

// needsSecret reports whether meshd keeps a generated createDomain secret in the data
// directory: when none is configured and the domains it shapes must stay unguessable or
// the same across restarts — the ip and subnet modes hash client addresses with it, and
// the bbolt store keeps groups under the domains it gave. With -store memory and the fixed
// mode nothing needs one: the one domain is the hash of an empty secret, the same at every
// start, and no secret is read or written.
func needsSecret(cfg *config) bool {
	return cfg.secret == "" && (cfg.storeKind == "bbolt" || cfg.domainMode != "fixed")
}

// loadSecret returns the createDomain secret kept in dir, creating it on first start so that
// domains stay the same across restarts.
func loadSecret(dir string) (string, error) {
	secret, _, err := keyfile.Load(dir, "secret", "secret", "", 32)
	return secret, err
}

package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// natsEnv makes the bench binary the second reference: nats-server's own WebSocket fan-out.
const natsEnv = "MESHD_BENCH_NATS"

// natsMain runs an embedded nats-server with its websocket listener on loopback, logs both
// addresses ("natsref listening" addr=WS,CLIENT) and serves until SIGTERM. The generator's
// sockets subscribe to their group's subject over WebSocket; the publisher sends over one
// plain NATS connection.
func natsMain() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := raiseFileLimit(); err != nil {
		log.Warn("open-file limit unchanged", "err", err)
	}
	opts := &natsserver.Options{
		ServerName: "bench-natsref",
		Host:       "127.0.0.1",
		Port:       natsserver.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		MaxConn:    1 << 20,
		// As meshd's bus allows a slow subscriber a deep buffer, so does the reference.
		MaxPending: 64 << 20,
		Websocket:  natsserver.WebsocketOpts{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoTLS: true},
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		log.Error("nats-server", "err", err)
		return 1
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		log.Error("nats-server not ready within 10s")
		return 1
	}
	addr := strings.TrimPrefix(srv.WebsocketURL(), "ws://") + "," + strings.TrimPrefix(srv.ClientURL(), "nats://")
	log.Info("natsref listening", "addr", addr)
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return 0
}

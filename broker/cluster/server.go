package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// maxPayload is the largest log entry: above the largest request body meshd accepts.
const maxPayload = 8 << 20

// clientUser is the only user of a node's NATS client port: meshd's own connection.
const clientUser = "meshd"

// routeWriteDeadline bounds how long a write to a peer may block.
const routeWriteDeadline = 2 * time.Second

// startupTimeout bounds how long the embedded server may take to accept connections.
const startupTimeout = 30 * time.Second

// startServer runs this node's embedded NATS server: a route port, always over mutual TLS,
// that only peers with the secret may use, JetStream with its files in the data directory, and a client port that
// meshd itself does not use (it connects in-process) but the server needs before it routes:
// that port listens on loopback only and takes only clientPassword, which never leaves the
// process.
func startServer(o *Options, clientPassword string, log *slog.Logger) (*server.Server, error) {
	host, port, err := splitHostPort(o.Listen)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	routes := make([]*url.URL, 0, len(o.Routes))
	for _, r := range o.Routes {
		u, err := routeURL(r, o.Secret)
		if err != nil {
			return nil, err
		}
		routes = append(routes, u)
	}
	tc, err := routeTLS(o)
	if err != nil {
		return nil, err
	}
	sopts := &server.Options{
		ServerName: o.NodeName,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		Username:   clientUser,
		Password:   clientPassword,
		NoSigs:     true,
		MaxPayload: maxPayload,
		MaxPending: 4 * maxPayload,
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, "jetstream"),
		// Every write of the log (the stream and its Raft log) is fsynced before it counts as
		// stored, unless an interval is set; nats-server then fsyncs on that interval.
		SyncAlways:   o.SyncInterval == 0,
		SyncInterval: o.SyncInterval,
		Cluster: server.ClusterOpts{
			Name:           o.Name,
			Host:           host,
			Port:           port,
			Username:       routeUser,
			Password:       o.Secret,
			AuthTimeout:    5,
			TLSConfig:      tc,
			TLSTimeout:     5,
			ConnectRetries: -1,
			// A peer that stops reading (frozen, or its machine stalls) has its routes closed
			// after routeWriteDeadline rather than holding up what this node sends to the
			// others; it reconnects when it reads again.
			WriteDeadline: routeWriteDeadline,
			WriteTimeout:  server.WriteTimeoutPolicyClose,
		},
		Routes: routes,
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start cluster nats: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log}, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(startupTimeout) {
		srv.Shutdown()
		return nil, errors.New("start cluster nats: not ready in time")
	}
	js := srv.JetStreamConfig()
	if js == nil {
		srv.Shutdown()
		return nil, errors.New("start cluster nats: JetStream is not running")
	}
	log.Info("cluster log on disk", "dir", js.StoreDir, "fsync", fsyncOf(js))
	return srv, nil
}

// fsyncOf says when the running server fsyncs what JetStream writes: "always" (every write)
// or its interval.
func fsyncOf(js *server.JetStreamConfig) string {
	if js.SyncAlways {
		return "always"
	}
	return "every " + js.SyncInterval.String()
}

// natsLogger sends the embedded server's warnings and errors to slog. Its notices are
// routine (routes coming and going, elections) and go at debug level, except one: that this
// node became the leader of a shard of the log.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if m := newLeader.FindStringSubmatch(msg); m != nil {
		l.log.Info("this node leads the cluster log", "shard", m[1])
		return
	}
	l.log.Debug("nats: " + msg)
}

func (l natsLogger) Warnf(format string, v ...any) { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if m := refusedPeer.FindStringSubmatch(msg); m != nil {
		l.log.Warn("cluster route peer refused", "peer", m[1], "reason", m[2])
		return
	}
	l.log.Error("nats: " + msg)
}

// newLeader matches the embedded server's notice that this node became the leader of a shard
// of the log, and captures the shard's stream.
var newLeader = regexp.MustCompile(`new stream leader for '[^']* > (` + streamName + `(?:-\d+)?)'`)

// refusedPeer matches the embedded server's report of a route connection it refused, in
// either direction: a failed TLS handshake or a failed authentication. It captures the
// peer's address and the reason.
var refusedPeer = regexp.MustCompile(`^(\S+) - rid:\d+ - ((?:TLS route handshake error|authentication error).*)$`)

func (l natsLogger) Debugf(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Tracef(string, ...any) {}

package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/smalruby/meshd/broker"
)

// DefaultReplicas is how many nodes store every log entry unless told otherwise: a majority
// of three survives the loss of any one node.
const DefaultReplicas = 3

// DefaultShards is how many shards the log is split into unless told otherwise: one leader
// per node of a three-node cluster.
const DefaultShards = 3

// MaxShards is the most shards a log may be split into.
const MaxShards = 64

// routeUser is the user name nodes present to each other's route port; the password is the
// cluster secret.
const routeUser = "meshd-route"

// Options configures one node of a cluster.
type Options struct {
	// Name is the cluster's name; every node of one cluster uses the same.
	Name string
	// NodeName is this node's name, unique in the cluster and stable across restarts.
	NodeName string
	// Listen is the host:port this node's routes listen on.
	Listen string
	// Routes are the nats://host:port route addresses of the peers; this node's own address
	// may be among them.
	Routes []string
	// Secret authenticates routes: a node accepts and opens routes only with it. Required,
	// at least MinSecretLength characters.
	Secret string
	// TLS, when set, is the routes' TLS; it should name a client CA and require client
	// certificates so that nodes verify each other. When nil, routes use mutual TLS with a
	// certificate derived from Secret.
	TLS *tls.Config
	// Replicas is how many nodes store every log entry; DefaultReplicas when 0.
	Replicas int
	// Shards is how many streams, each with its own leader, the log is split into;
	// DefaultShards when 0. Every node of a cluster must use the number the cluster was
	// created with: a node set to another refuses to serve.
	Shards int
	// DataDir holds this node's copy of the replicated log.
	DataDir string
	// SyncInterval is how often the node flushes its copy of the log to disk (fsync). Zero
	// flushes every entry before this node counts it as stored, so that a change is on the
	// disk of a majority before it is acknowledged and survives every node losing power at
	// once; a positive interval is faster, and such a power cut loses up to its last interval.
	SyncInterval time.Duration
	// Broker configures the in-memory broker each node applies the log to: its Config and
	// Bus are used, its Store, Clock and NewID are the node's own.
	Broker broker.Options
	// Clock stamps proposed entries and answers Now; time.Now when nil.
	Clock func() time.Time
	// Logger receives operational logs; slog.Default() when nil.
	Logger *slog.Logger
	// OnCommit, when set, is told how long each control-plane change took from proposal until
	// this node applied it, and whether it failed.
	OnCommit func(d time.Duration, ops int, err error)
}

func (o *Options) check() error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("cluster name is empty"))
	}
	if o.NodeName == "" {
		errs = append(errs, errors.New("node name is empty"))
	}
	if len(o.Secret) < MinSecretLength {
		errs = append(errs, fmt.Errorf("cluster secret has %d characters, fewer than %d: routes must authenticate with a secret no one guesses", len(o.Secret), MinSecretLength))
	}
	if _, _, err := splitHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("cluster listen address: %w", err))
	}
	for _, r := range o.Routes {
		if _, err := routeURL(r, ""); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas must be between 1 and 5, got %d", o.Replicas))
	}
	if o.Shards < 0 || o.Shards > MaxShards {
		errs = append(errs, fmt.Errorf("shards must be between 1 and %d, got %d", MaxShards, o.Shards))
	}
	if o.DataDir == "" {
		errs = append(errs, errors.New("data directory is empty"))
	}
	if o.SyncInterval < 0 {
		errs = append(errs, fmt.Errorf("sync interval must be zero (every entry) or positive, got %s", o.SyncInterval))
	}
	if o.Broker.Bus == nil {
		errs = append(errs, errors.New("broker bus is required"))
	}
	return errors.Join(errs...)
}

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("%q: port is not a number between 0 and 65535", addr)
	}
	return host, p, nil
}

// routeURL parses a peer's route address (nats://host:port, or host:port) and adds the
// route credentials.
func routeURL(route, secret string) (*url.URL, error) {
	u, err := url.Parse(route)
	if err != nil || u.Host == "" {
		if u, err = url.Parse("nats://" + route); err != nil {
			return nil, fmt.Errorf("cluster route %q: %w", route, err)
		}
	}
	if u.Scheme != "nats" && u.Scheme != "tls" {
		return nil, fmt.Errorf("cluster route %q: want nats://host:port", route)
	}
	if _, _, err := splitHostPort(u.Host); err != nil {
		return nil, fmt.Errorf("cluster route %q: %w", route, err)
	}
	u.User = url.UserPassword(routeUser, secret)
	return u, nil
}

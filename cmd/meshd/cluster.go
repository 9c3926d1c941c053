package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/cluster"
	"github.com/smalruby/meshd/cmd/meshd/tlscert"
)

// clusterConfig holds the cluster settings; an empty listen address runs meshd as one
// process on its own.
type clusterConfig struct {
	listen   string
	routes   []string
	name     string
	nodeName string
	secret   string
	tlsCert  string
	tlsKey   string
	tlsCA    string
	replicas int
	shards   int
	// sync is how often each node fsyncs its copy of the log; 0 is every change.
	sync time.Duration
}

func (c *clusterConfig) enabled() bool { return c.listen != "" }

// validate checks the cluster settings on their own and with each other. It is part of
// config.validate, so `meshd check` and a start refuse the same settings.
func (c *clusterConfig) validate() []error {
	if !c.enabled() {
		var set []string
		for _, s := range []struct{ flag, value string }{
			{"cluster-routes", strings.Join(c.routes, ",")},
			{"cluster-secret", c.secret},
			{"cluster-tls-cert", c.tlsCert},
			{"cluster-tls-key", c.tlsKey},
			{"cluster-tls-ca", c.tlsCA},
		} {
			if s.value != "" {
				set = append(set, "-"+s.flag)
			}
		}
		if len(set) > 0 {
			return []error{fmt.Errorf("%s set without -cluster-listen: meshd would run as one process on its own; set -cluster-listen to join the cluster, or unset %s", strings.Join(set, ", "), strings.Join(set, ", "))}
		}
		return nil
	}
	var errs []error
	if c.secret == "" {
		errs = append(errs, errors.New("-cluster-secret is required with -cluster-listen: routes between nodes must authenticate"))
	}
	if c.replicas < 1 || c.replicas > 5 {
		errs = append(errs, fmt.Errorf("-cluster-replicas must be between 1 and 5, got %d", c.replicas))
	}
	if c.shards < 1 || c.shards > cluster.MaxShards {
		errs = append(errs, fmt.Errorf("-cluster-shards must be between 1 and %d, got %d", cluster.MaxShards, c.shards))
	}
	if (c.tlsCert == "") != (c.tlsKey == "") || (c.tlsCert == "") != (c.tlsCA == "") {
		errs = append(errs, errors.New("-cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca go together"))
	}
	if _, _, err := net.SplitHostPort(c.listen); err != nil {
		errs = append(errs, fmt.Errorf("-cluster-listen: %w", err))
	}
	return errs
}

// prepare fills in the node name, and gives the nodes one createDomain secret when none is
// set: every node must hand a caller the same domain. The settings were validated already.
func (c *clusterConfig) prepare(cfg *config) error {
	if !c.enabled() {
		return nil
	}
	if c.nodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("-node-name is empty and the host name is unknown: %w", err)
		}
		c.nodeName = host
	}
	if cfg.secret == "" {
		cfg.secret = domainSecret(c.secret)
	}
	return nil
}

// domainSecret derives the createDomain secret from the cluster secret, so that one shared
// secret is enough for a cluster.
func domainSecret(clusterSecret string) string {
	sum := sha256.Sum256([]byte("meshd createDomain secret\x00" + clusterSecret))
	return hex.EncodeToString(sum[:])
}

// service is what serves the API: one broker, or a node of a cluster.
type service interface {
	broker.Service
	Close() error
}

// newService starts the single-process broker, or, with cluster settings, this process's node
// of the cluster (its state is the replicated log, so it needs no store of its own). local is
// the broker that holds this process's state, for read-only inspection.
func newService(ctx context.Context, cfg *config, log *slog.Logger, opts broker.Options) (svc service, local *broker.Broker, err error) {
	if !cfg.cluster.enabled() {
		b, err := broker.New(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		return b, b, nil
	}
	c := &cfg.cluster
	copts := cluster.Options{
		Name:         c.name,
		NodeName:     c.nodeName,
		Listen:       c.listen,
		Routes:       c.routes,
		Secret:       c.secret,
		Replicas:     c.replicas,
		Shards:       c.shards,
		DataDir:      filepath.Join(cfg.dataDir, "cluster"),
		SyncInterval: c.sync,
		Broker:       opts,
		Logger:       log,
		OnCommit:     opts.OnCommit,
	}
	if c.tlsCert != "" {
		tc, err := tlscert.Mutual(c.tlsCert, c.tlsKey, c.tlsCA)
		if err != nil {
			return nil, nil, err
		}
		copts.TLS = tc
	}
	n, err := cluster.Start(ctx, copts)
	if err != nil {
		return nil, nil, err
	}
	return n, n.Local(), nil
}

// drainWait is how long a cluster node that is stopping keeps serving while it reports not
// ready, so that a load balancer checking /readyz every second notices before the node stops
// accepting connections.
const drainWait = 3 * time.Second

// handover begins a planned stop of a cluster node: it hands over the leadership of every
// shard of the log it leads and reports not ready, then keeps serving for drainWait. One meshd
// on its own has nothing to hand over.
func handover(ctx context.Context, svc service, log *slog.Logger) {
	n, ok := svc.(*cluster.Node)
	if !ok {
		return
	}
	if err := n.Handover(ctx); err != nil {
		log.Warn("handover incomplete", "err", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(drainWait):
	}
}

// syncAlways is -cluster-sync's value for an fsync of every change.
const syncAlways = "always"

// syncValue is -cluster-sync: "always" (stored as 0) or a positive interval.
type syncValue struct{ p *time.Duration }

func syncVar(p *time.Duration) flag.Value { *p = 0; return syncValue{p} }

func (v syncValue) String() string {
	if *v.p == 0 {
		return syncAlways
	}
	return v.p.String()
}

func (v syncValue) Set(s string) error {
	if s == syncAlways {
		*v.p = 0
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New(`not "always" or a positive duration such as 1s`)
	}
	*v.p = d
	return nil
}

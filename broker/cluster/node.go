// Package cluster runs meshd as one node of a cluster that serves one Mesh v2 API: the nodes'
// embedded NATS servers are joined by routes, and replicated JetStream streams — the shards of
// the log, each with its own leader — are the ordered log of every state change, the changes
// of each group in one shard. Each node applies every shard, in order, to its own in-memory
// broker.Broker and fans messages out to its own subscribers, so that every node holds the
// same state and every subscriber sees one order per group.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/store"
)

// Waits of the request path.
const (
	// proposeTimeout bounds how long a mutation waits for its entry to be stored by a
	// majority and applied here: long enough to ride out a leader election.
	proposeTimeout = 20 * time.Second
	// ackTimeout bounds one attempt to store an entry; a timed-out attempt is retried with
	// the same deduplication id.
	ackTimeout = 2 * time.Second
	// retryWait separates attempts to store an entry.
	retryWait = 250 * time.Millisecond
	// syncTimeout bounds how long a query waits until this node has applied the whole log.
	syncTimeout = 20 * time.Second
	// readyLeaderWait bounds how long a readiness check waits for a shard's leader before it
	// judges by what this node knows.
	readyLeaderWait = time.Second
	// lateWait is how long a caller waits for an entry it knows of to arrive republished
	// before it has the log read directly.
	lateWait = 50 * time.Millisecond
	// streamRetry separates attempts to create the shards' streams while the cluster forms.
	streamRetry = time.Second
)

// Node is one meshd of a cluster. It implements broker.Service.
type Node struct {
	mutator
	opts   Options
	log    *slog.Logger
	clock  func() time.Time
	srv    *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	b      *broker.Broker
	origin string

	proposals atomic.Uint64
	// shards are the log's shards, shards[broker.PartOf(domain, group, len(shards))] the one
	// of a group.
	shards []*shard

	mu      sync.Mutex
	pending map[uint64]chan result
	// refused is why this node will not serve the log (errShardCount), once known.
	refused error
	// up is closed once every shard is open.
	up chan struct{}
	// stopping is set when the node hands over and stops serving.
	stopping atomic.Bool
	// leavers are the other nodes that announced they stop.
	leavers leavers

	stop      chan struct{}
	bg        context.Context
	cancel    context.CancelFunc
	loops     sync.WaitGroup
	closeOnce sync.Once
}

// mutator embeds broker.Mutator in Node under an unexported name: its methods are the node's
// mutations.
type mutator = broker.Mutator

// result is what applying one entry returned.
type result struct {
	out broker.Outcome
	err error
}

var _ broker.Service = (*Node)(nil)

// Start runs the node's NATS server and broker and joins the cluster in the background: the
// node serves once the replicated log exists and it has applied all of it (see Ready).
func Start(ctx context.Context, opts Options) (*Node, error) {
	if opts.Replicas == 0 {
		opts.Replicas = DefaultReplicas
	}
	if opts.Shards == 0 {
		opts.Shards = DefaultShards
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("start cluster node: %w", err)
	}
	n := &Node{
		opts:    opts,
		log:     opts.Logger,
		clock:   opts.Clock,
		pending: make(map[uint64]chan result),
		up:      make(chan struct{}),
		stop:    make(chan struct{}),
	}
	for i := range opts.Shards {
		n.shards = append(n.shards, newShard(n, i))
	}
	n.mutator = broker.NewMutator(n.propose)
	n.bg, n.cancel = context.WithCancel(context.Background())
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.clock == nil {
		n.clock = time.Now
	}
	var inc, password [16]byte
	rand.Read(inc[:])
	rand.Read(password[:])
	n.origin = opts.NodeName + "/" + hex.EncodeToString(inc[:8])

	srv, err := startServer(&n.opts, hex.EncodeToString(password[:]), n.log)
	if err != nil {
		return nil, err
	}
	n.srv = srv
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(clientUser, hex.EncodeToString(password[:])), nats.Name("meshd-cluster"), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { n.log.Warn("cluster connection", "err", err) }))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to cluster nats: %w", err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		n.shutdownNATS()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	bopts := opts.Broker
	bopts.Store = store.NewMemory()
	// Changes carry their time and new ids; the broker's clock serves queries.
	bopts.Clock = n.clock
	bopts.NewID = nil
	bopts.OnCommit = nil
	// The log drives sweeping; the memory store needs no status flushes.
	bopts.Config.SweepInterval, bopts.Config.StatusFlushInterval = 0, 0
	if n.b, err = broker.New(ctx, bopts); err != nil {
		n.shutdownNATS()
		return nil, err
	}
	n.loops.Add(1)
	go n.join()
	n.log.Info("cluster node started", "cluster", opts.Name, "node", opts.NodeName, "routes_listen", n.RouteAddr(), "routes", len(opts.Routes), "replicas", opts.Replicas, "shards", opts.Shards)
	return n, nil
}

// Progress reports how far this node has applied the log: the entries it applied, summed
// over the shards, and how many entries the shards' leaders hold beyond them (-1 when a leader
// cannot be reached within ctx).
func (n *Node) Progress(ctx context.Context) (applied uint64, behind int64) {
	for _, s := range n.shards {
		a, b := s.progress(ctx)
		applied += a
		if b < 0 || behind < 0 {
			behind = -1
		} else {
			behind += b
		}
	}
	return applied, behind
}

// Local is the broker this node applies the log to, for read-only inspection: its state is the
// cluster's as of the last entry applied here. Changes must go through the Node.
func (n *Node) Local() *broker.Broker { return n.b }

// RouteAddr is the address this node's routes listen on.
func (n *Node) RouteAddr() string {
	if a := n.srv.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// join opens every shard of the log (every node asks for the same streams; the first request
// that meets a quorum creates each), starts applying them, and then proposes a sweep of each
// shard every SweepInterval. The first shard, which records how many shards the log has, is
// opened first, so that a node set to another number creates no stream.
func (n *Node) join() {
	defer n.loops.Done()
	err := n.openShard(n.shards[0])
	if err == nil && len(n.shards) > 1 {
		err = each(n.shards[1:], n.openShard)
	}
	if errors.Is(err, errShardCount) {
		n.mu.Lock()
		n.refused = err
		n.mu.Unlock()
		n.log.Error("this node will not serve", "err", err)
		return
	}
	if err != nil {
		return // stopping
	}
	close(n.up)
	n.log.Info("cluster log open", "node", n.opts.NodeName, "shards", len(n.shards))
	n.loops.Add(1)
	go n.balance()

	d := n.opts.Broker.Config.SweepInterval
	if d <= 0 {
		return
	}
	for _, s := range n.shards {
		n.loops.Add(1)
		go n.sweep(s, d)
	}
}

// openShard opens the shard's stream, retrying while the cluster forms, subscribes to what
// its leader republishes and starts reading it. It fails only when the node stops or the log
// has another number of shards.
func (n *Node) openShard(s *shard) error {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(n.bg, streamRetry)
		stream, err := s.open(ctx)
		cancel()
		if errors.Is(err, errShardCount) {
			return err
		}
		var sub *nats.Subscription
		if err == nil {
			if sub, err = s.subscribeApplied(); err == nil {
				s.mu.Lock()
				s.stream, s.sub = stream, sub
				s.mu.Unlock()
				n.loops.Add(1)
				go s.fill()
				return nil
			}
		}
		if attempt%10 == 9 {
			n.log.Warn("waiting for the cluster to store the log", "shard", s.name, "err", err)
		}
		select {
		case <-n.stop:
			return fmt.Errorf("open %s: node stopped", s.name)
		case <-time.After(streamRetry):
		}
	}
}

// sweep proposes a sweep of the shard's groups every d until the node stops.
func (n *Node) sweep(s *shard, d time.Duration) {
	defer n.loops.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	part := &broker.Part{Index: s.index, Of: len(n.shards)}
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if _, err := n.propose(n.bg, broker.Change{Op: broker.OpSweep, Part: part}); err != nil && n.bg.Err() == nil {
				n.log.Warn("sweep not proposed", "shard", s.name, "err", err)
			}
		}
	}
}

// propose appends the change to its shard of the log, stamped with this node's time and, for
// a create, the id a new group gets, and waits until this node has applied it, returning what
// the broker's rules answered.
func (n *Node) propose(ctx context.Context, c broker.Change) (broker.Outcome, error) {
	s := n.shardOf(&c)
	e := &entry{Change: c, Origin: n.origin, Proposal: n.proposals.Add(1), At: n.clock().UnixMilli()}
	data, err := e.encode()
	if err != nil {
		return broker.Outcome{}, internal(err)
	}
	start := time.Now()
	ch := make(chan result, 1)
	n.mu.Lock()
	n.pending[e.Proposal] = ch
	n.mu.Unlock()
	r, err := n.await(ctx, s, e, data, ch)
	if err != nil {
		n.mu.Lock()
		delete(n.pending, e.Proposal)
		n.mu.Unlock()
		err = internal(fmt.Errorf("propose %s: %w", e.Op, err))
	}
	if n.opts.OnCommit != nil && e.Op != broker.OpReport && e.Op != broker.OpFire && e.Op != broker.OpRecord && e.Op != broker.OpSweep {
		n.opts.OnCommit(time.Since(start), 1, err)
	}
	if err != nil {
		return broker.Outcome{}, err
	}
	return r.out, r.err
}

// await stores the entry in its shard and waits until this node has applied it.
func (n *Node) await(ctx context.Context, s *shard, e *entry, data []byte, ch chan result) (result, error) {
	select {
	case <-n.up:
	case <-ctx.Done():
		return result{}, fmt.Errorf("cluster log not open yet: %w", ctx.Err())
	}
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	if r, err := s.append(ctx, e, data, ch); r != nil || err != nil {
		if r == nil {
			return result{}, err
		}
		return *r, nil
	}
	for {
		select {
		case r := <-ch:
			return r, nil
		case <-time.After(lateWait):
			// The leader's republished entry is late or lost: read the shard directly.
			s.kick()
		case <-ctx.Done():
			return result{}, fmt.Errorf("stored but not applied here: %w", ctx.Err())
		}
	}
}

// answer hands the result of this process's proposal to its waiting caller, if it still
// waits.
func (n *Node) answer(proposal uint64, r result) {
	n.mu.Lock()
	w := n.pending[proposal]
	delete(n.pending, proposal)
	n.mu.Unlock()
	if w != nil {
		w <- r
	}
}

// read waits, with the query timeout, until this node has applied every entry the given
// shards held when it was called (see shard.sync), all shards at once; it reports failure as
// an internal error.
func (n *Node) read(shards ...*shard) error {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	select {
	case <-n.up:
	case <-ctx.Done():
		return internal(fmt.Errorf("cluster log not open yet: %w", ctx.Err()))
	}
	if err := each(shards, func(s *shard) error { return s.sync(ctx) }); err != nil {
		return internal(err)
	}
	return nil
}

func internal(err error) *broker.Error {
	return &broker.Error{Kind: broker.InternalError, Message: "Internal server error", Err: err}
}

// Handover prepares a planned stop: the node reports itself not ready, so that load
// balancers stop sending it requests, and hands the leadership of every shard it leads to
// another replica, waiting until one has taken each or ctx ends. The node goes on serving the
// requests it still gets.
func (n *Node) Handover(ctx context.Context) error {
	n.stopping.Store(true)
	n.announceLeaving()
	if err := each(n.shards, func(s *shard) error { return s.handover(ctx) }); err != nil {
		return err
	}
	n.log.Info("handed over: this node leads no shard of the log and reports not ready")
	return nil
}

// Close leaves the cluster: it stops applying the log, closes the broker and shuts the NATS
// server down. The log stays with the other nodes.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		close(n.stop)
		n.cancel()
		n.loops.Wait()
		for _, s := range n.shards {
			s.mu.Lock()
			sub := s.sub
			s.mu.Unlock()
			if sub != nil {
				sub.Unsubscribe()
			}
		}
		err = n.b.Close()
		n.shutdownNATS()
	})
	return err
}

func (n *Node) shutdownNATS() {
	if n.nc != nil {
		n.nc.Close()
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// Ready reports whether the node should be sent requests: its broker is up, it is not
// handing over, the log is open, it reaches a majority of the log's replicas, and it has
// applied every shard as far as it knows it. When a shard's leader answers within a second
// that is the leader's last entry; during an election it is the last entry this node has
// heard of, once it has caught up with a leader since it started. So an election makes no
// node unready: requests that arrive meanwhile wait for the new leader and succeed.
func (n *Node) Ready(ctx context.Context) error {
	if err := n.b.Ready(ctx); err != nil {
		return err
	}
	if n.stopping.Load() {
		return errors.New("cluster: this node is stopping")
	}
	select {
	case <-n.up:
	default:
		n.mu.Lock()
		refused := n.refused
		n.mu.Unlock()
		if refused != nil {
			return fmt.Errorf("cluster: %w", refused)
		}
		return errors.New("cluster: the replicated log is not open yet (are a majority of the nodes up?)")
	}
	if peers, need := n.peers(), n.opts.Replicas/2; peers < need {
		return fmt.Errorf("cluster: cut off: routes to %d other nodes, a majority needs %d", peers, need)
	}
	if err := each(n.shards, func(s *shard) error { return s.ready(ctx) }); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// peers counts the other nodes this node has a route to.
func (n *Node) peers() int {
	rz, err := n.srv.Routez(nil)
	if err != nil {
		return 0
	}
	names := make(map[string]bool)
	for _, r := range rz.Routes {
		names[r.RemoteName] = true
	}
	return len(names)
}

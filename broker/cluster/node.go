// Package cluster runs meshd as one node of a cluster that serves one Mesh v2 API: the nodes'
// embedded NATS servers are joined by routes, and one replicated JetStream stream is the
// ordered log of every state change. Each node applies the log, in order, to its own
// in-memory broker.Broker and fans messages out to its own subscribers, so that every node
// holds the same state and every subscriber sees one order per group.
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

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/store"
)

// The replicated log.
const (
	streamName = "MESHD"
	logSubject = "meshd.log"
	// retentionMargin is kept beyond a group's longest life (MaxConnectionTime), so that every
	// entry about a group that may still be alive is retained while node clocks differ by
	// less than it.
	retentionMargin = 5 * time.Minute
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
	// readyLeaderWait bounds how long a readiness check waits for the log's leader before it
	// judges by what this node knows.
	readyLeaderWait = time.Second
	// lateWait is how long a caller waits for an entry it knows of to arrive republished
	// before it has the log read directly.
	lateWait = 50 * time.Millisecond
	// streamRetry separates attempts to create the stream while the cluster forms.
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

	mu        sync.Mutex
	pending   map[uint64]chan result
	applied   uint64
	appliedCh chan struct{}
	// seen is the highest sequence this node knows the log holds.
	seen uint64
	// caughtUp is set once this node has applied all a leader of the log said it held.
	caughtUp bool
	stream   jetstream.Stream
	sub      *nats.Subscription
	up       chan struct{}
	kickCh   chan struct{}
	// leaving is set when the node hands over and stops serving.
	leaving atomic.Bool

	// Owned by the applier: the time of the last entry applied.
	applyMu sync.Mutex
	logTime int64

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
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("start cluster node: %w", err)
	}
	n := &Node{
		opts:      opts,
		log:       opts.Logger,
		clock:     opts.Clock,
		pending:   make(map[uint64]chan result),
		appliedCh: make(chan struct{}),
		up:        make(chan struct{}),
		kickCh:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
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
	n.log.Info("cluster node started", "cluster", opts.Name, "node", opts.NodeName, "routes_listen", n.RouteAddr(), "routes", len(opts.Routes), "replicas", opts.Replicas)
	return n, nil
}

// Progress reports how far this node has applied the log: the sequence of the last entry it
// applied, and how many entries the log's leader holds beyond it (-1 when the leader cannot be
// reached within ctx).
func (n *Node) Progress(ctx context.Context) (applied uint64, behind int64) {
	n.mu.Lock()
	applied, stream := n.applied, n.stream
	n.mu.Unlock()
	if stream == nil {
		return applied, -1
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return applied, -1
	}
	return applied, int64(info.State.LastSeq) - int64(applied)
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

// join creates the replicated log (every node asks for the same one; the first request that
// meets a quorum wins), starts applying it, and then proposes a sweep every SweepInterval.
func (n *Node) join() {
	defer n.loops.Done()
	cfg := jetstream.StreamConfig{
		Name:        streamName,
		Description: "meshd: every state change, in order",
		Subjects:    []string{logSubject},
		Storage:     jetstream.FileStorage,
		Replicas:    n.opts.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      n.opts.Broker.Config.MaxConnectionTime + retentionMargin,
		MaxMsgSize:  maxPayload,
		AllowDirect: true,
		RePublish:   &jetstream.RePublish{Source: logSubject, Destination: appliedSubject},
	}
	var stream jetstream.Stream
	for attempt := 0; ; attempt++ {
		s, err := n.openStream(cfg)
		if err == nil {
			stream = s
			break
		}
		if attempt%10 == 9 {
			n.log.Warn("waiting for the cluster to store the log", "err", err)
		}
		select {
		case <-n.stop:
			return
		case <-time.After(streamRetry):
		}
	}
	sub, err := n.subscribeApplied()
	for err != nil {
		n.log.Warn("cannot read the log yet", "err", err)
		select {
		case <-n.stop:
			return
		case <-time.After(streamRetry):
		}
		sub, err = n.subscribeApplied()
	}
	n.mu.Lock()
	n.stream, n.sub = stream, sub
	n.mu.Unlock()
	n.loops.Add(1)
	go n.fill()
	close(n.up)
	n.log.Info("cluster log open", "node", n.opts.NodeName)

	d := n.opts.Broker.Config.SweepInterval
	if d <= 0 {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if _, err := n.propose(n.bg, broker.Change{Op: broker.OpSweep}); err != nil && n.bg.Err() == nil {
				n.log.Warn("sweep not proposed", "err", err)
			}
		}
	}
}

// openStream finds the log, or creates it when no node has yet. A log that exists with other
// settings is updated to this node's (the settings of the last node started win).
func (n *Node) openStream(cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(n.bg, streamRetry)
	defer cancel()
	s, err := n.js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return n.js.CreateStream(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	if have := s.CachedInfo().Config; have.Replicas != cfg.Replicas || have.MaxAge != cfg.MaxAge || !have.AllowDirect || have.RePublish == nil {
		n.log.Info("updating the log's settings", "replicas", cfg.Replicas, "max_age", cfg.MaxAge)
		return n.js.UpdateStream(ctx, cfg)
	}
	return s, nil
}

// apply runs one entry's change through the broker's rules at the entry's log time: its
// proposer's time, but never before the entry ahead of it, so that log time only moves
// forward.
func (n *Node) apply(e *entry) (broker.Outcome, error) {
	n.logTime = max(n.logTime, e.At)
	c := e.Change
	c.At = time.UnixMilli(n.logTime)
	return n.b.Apply(context.Background(), c)
}

// propose appends the change to the log, stamped with this node's time and, for a create,
// the id a new group gets, and waits until this node has applied it, returning what the
// broker's rules answered.
func (n *Node) propose(ctx context.Context, c broker.Change) (broker.Outcome, error) {
	if c.Op == broker.OpCreate {
		c.NewID = newGroupID()
	}
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
	r, err := n.await(ctx, e, data, ch)
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

func (n *Node) await(ctx context.Context, e *entry, data []byte, ch chan result) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, ackTimeout)
		ack, err := n.js.PublishMsg(actx, &nats.Msg{Subject: logSubject, Data: data},
			jetstream.WithMsgID(e.id()), jetstream.WithExpectStream(streamName))
		acancel()
		if err == nil {
			n.noteSeen(ack.Sequence)
			break
		}
		n.log.Debug("log append retried", "op", e.Op, "err", err)
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return result{}, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(retryWait):
		}
	}
	for {
		select {
		case r := <-ch:
			return r, nil
		case <-time.After(lateWait):
			// The leader's republished entry is late or lost: read the log directly.
			n.kick()
		case <-ctx.Done():
			return result{}, fmt.Errorf("stored but not applied here: %w", ctx.Err())
		}
	}
}

// sync waits until this node has applied every entry the log held when it was called: one
// round trip to the log's leader, like a Raft read index, retried while the log has no
// leader. Until the node has caught up once, it also waits until its own replica of the log
// (if it holds one) is current, so that a node that starts with an empty copy never takes
// that copy's answer for the log's.
func (n *Node) sync(ctx context.Context) error {
	select {
	case <-n.up:
	case <-ctx.Done():
		return fmt.Errorf("cluster log not open yet: %w", ctx.Err())
	}
	for {
		target, err := n.leaderLastSeq(ctx)
		if err != nil {
			return err
		}
		if err := n.applyUpTo(ctx, target); err != nil {
			return err
		}
		if n.caughtUpOnce() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("this node's replica of the log is not current yet: %w", ctx.Err())
		case <-time.After(retryWait):
		}
	}
}

// leaderLastSeq asks the log's leader for the sequence of its last entry, again and again
// until a leader answers or ctx ends: during an election the replicas answer with their own
// copies, which prove nothing.
func (n *Node) leaderLastSeq(ctx context.Context) (uint64, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, ackTimeout)
		info, err := n.stream.Info(actx)
		cancel()
		if err == nil {
			if info.Cluster == nil || info.Cluster.Leader != "" {
				n.noteSeen(info.State.LastSeq)
				return info.State.LastSeq, nil
			}
			err = errors.New("the log has no leader")
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("ask the log's leader for its last entry: %w (last answer: %v)", ctx.Err(), err)
		case <-time.After(retryWait):
		}
	}
}

// applyUpTo waits until this node has applied the log up to seq, reading it directly when
// the leader's republished entries do not arrive.
func (n *Node) applyUpTo(ctx context.Context, seq uint64) error {
	for {
		n.mu.Lock()
		applied, ch := n.applied, n.appliedCh
		n.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(lateWait):
			n.kick()
		case <-ctx.Done():
			return fmt.Errorf("applied %d of %d log entries: %w", applied, seq, ctx.Err())
		}
	}
}

// caughtUpOnce reports whether this node has caught up with the log since it started, and
// records it the first time: it has applied what a leader said the log held, and its own
// replica, if it holds one, is current.
func (n *Node) caughtUpOnce() bool {
	n.mu.Lock()
	done := n.caughtUp
	n.mu.Unlock()
	if done {
		return true
	}
	const acc = server.DEFAULT_GLOBAL_ACCOUNT
	if n.srv.JetStreamIsStreamAssigned(acc, streamName) && !n.srv.JetStreamIsStreamCurrent(acc, streamName) {
		return false
	}
	n.mu.Lock()
	if !n.caughtUp {
		n.caughtUp = true
		n.log.Info("caught up with the cluster log", "applied", n.applied)
	}
	n.mu.Unlock()
	return true
}

// read waits for sync with the query timeout, and reports failure as an internal error.
func (n *Node) read() error {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	if err := n.sync(ctx); err != nil {
		return internal(err)
	}
	return nil
}

func internal(err error) *broker.Error {
	return &broker.Error{Kind: broker.InternalError, Message: "Internal server error", Err: err}
}

// Handover prepares a planned stop: the node reports itself not ready, so that load
// balancers stop sending it requests, and hands the log's leadership, if it holds it, to
// another replica, waiting until one has taken it or ctx ends. The node goes on serving the
// requests it still gets.
func (n *Node) Handover(ctx context.Context) error {
	n.leaving.Store(true)
	const acc = server.DEFAULT_GLOBAL_ACCOUNT
	for n.srv.JetStreamIsStreamLeader(acc, streamName) {
		if err := n.srv.JetStreamStepdownStream(acc, streamName); err != nil {
			return fmt.Errorf("hand the log's leadership over: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hand the log's leadership over: %w", ctx.Err())
		case <-time.After(retryWait):
		}
	}
	n.log.Info("handed over: this node no longer leads the log and reports not ready")
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
		n.mu.Lock()
		sub := n.sub
		n.mu.Unlock()
		if sub != nil {
			sub.Unsubscribe()
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
// applied the log as far as it knows it. When a leader of the log answers within ctx that
// is the leader's last entry; during an election it is the last entry this node has heard
// of, once it has caught up with a leader since it started. So an election makes no node
// unready: requests that arrive meanwhile wait for the new leader and succeed.
func (n *Node) Ready(ctx context.Context) error {
	if err := n.b.Ready(ctx); err != nil {
		return err
	}
	if n.leaving.Load() {
		return errors.New("cluster: this node is stopping")
	}
	select {
	case <-n.up:
	default:
		return errors.New("cluster: the replicated log is not open yet (are a majority of the nodes up?)")
	}
	if peers, need := n.peers(), n.opts.Replicas/2; peers < need {
		return fmt.Errorf("cluster: cut off: routes to %d other nodes, a majority needs %d", peers, need)
	}
	lctx, cancel := context.WithTimeout(ctx, readyLeaderWait)
	target, err := n.leaderLastSeq(lctx)
	cancel()
	if err != nil {
		n.mu.Lock()
		caughtUp, seen, applied := n.caughtUp, n.seen, n.applied
		n.mu.Unlock()
		if !caughtUp {
			return fmt.Errorf("cluster: not caught up with the log yet: %w", err)
		}
		target = max(seen, applied)
	}
	if err := n.applyUpTo(ctx, target); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if !n.caughtUpOnce() {
		return errors.New("cluster: this node's replica of the log is not current yet")
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

// newGroupID is the id a proposed createGroup gives a new group.
func newGroupID() string { return uuid.NewString() }

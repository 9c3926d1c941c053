package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smalruby/meshd/broker"
)

// The log is split into shards: Options.Shards streams, each replicated by JetStream's Raft
// with a leader of its own, each the ordered log of the changes of the groups that hash to it
// (broker.PartOf of domain and group id). Every node reads every shard and applies it to its
// one broker; changes of one group are in one shard, so their order is one everywhere, and
// changes of different groups commute.
const (
	// streamName is the first shard's stream; the others are streamName-1, streamName-2, …
	// A log of one shard is the single stream of meshd before the split.
	streamName = "MESHD"
	logSubject = "meshd.log"
	// shardsKey is the stream metadata that records how many shards the log was created
	// with; a stream without it belongs to a log of one shard.
	shardsKey = "meshd-shards"
	// retentionMargin is kept beyond a group's longest life (MaxConnectionTime), so that every
	// entry about a group that may still be alive is retained while node clocks differ by
	// less than it.
	retentionMargin = 5 * time.Minute
	// perSubjectBound is each shard's MaxMsgsPer. A shard has one subject and never holds
	// this many entries, so it discards nothing; it is set because nats-server then writes
	// the stream in blocks of 4 MB instead of 8 MB (its sizing of a limits stream with no
	// MaxBytes), and every node holds the block being written of every shard in memory.
	perSubjectBound = 1 << 50
)

// errShardCount reports a log created with another number of shards than this node's: the
// node refuses to serve rather than read only part of the log, or split it differently.
var errShardCount = errors.New("the cluster log has another number of shards")

// shard is this node's view of one shard of the log: what it has applied and what it knows
// the shard holds.
type shard struct {
	node  *Node
	index int
	// name is the stream; subject is where entries are appended, applied where the leader
	// republishes them, directGet the stream's direct-read API.
	name, subject, applied, directGet string

	mu        sync.Mutex
	last      uint64
	appliedCh chan struct{}
	// seen is the highest sequence this node knows the shard holds.
	seen uint64
	// caughtUp is set once this node has applied all a leader of the shard said it held.
	caughtUp bool
	stream   jetstream.Stream
	sub      *nats.Subscription
	kickCh   chan struct{}

	// Owned by the applier: the time of the last entry applied.
	applyMu sync.Mutex
	logTime int64
}

func newShard(n *Node, i int) *shard {
	s := &shard{node: n, index: i, name: streamName, subject: logSubject, applied: appliedSubject,
		appliedCh: make(chan struct{}), kickCh: make(chan struct{}, 1)}
	if i > 0 {
		suffix := strconv.Itoa(i)
		s.name += "-" + suffix
		s.subject += "." + suffix
		s.applied += "." + suffix
	}
	s.directGet = "$JS.API.DIRECT.GET." + s.name
	return s
}

// config is the shard's stream as this node wants it.
func (s *shard) config() jetstream.StreamConfig {
	o := s.node.opts
	return jetstream.StreamConfig{
		Name:              s.name,
		Description:       fmt.Sprintf("meshd: the state changes of shard %d of %d, in order", s.index, o.Shards),
		Subjects:          []string{s.subject},
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            o.Broker.Config.MaxConnectionTime + retentionMargin,
		MaxMsgSize:        maxPayload,
		MaxMsgsPerSubject: perSubjectBound,
		AllowDirect:       true,
		RePublish:         &jetstream.RePublish{Source: s.subject, Destination: s.applied},
		Metadata:          map[string]string{shardsKey: strconv.Itoa(o.Shards)},
	}
}

// open finds the shard's stream, or creates it when no node has yet. A stream that exists with
// other settings is updated to this node's (the settings of the last node started win), but
// the number of shards never changes: a log created with another number fails with
// errShardCount.
func (s *shard) open(ctx context.Context) (jetstream.Stream, error) {
	js, cfg := s.node.js, s.config()
	st, err := js.Stream(ctx, s.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return js.CreateStream(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	have := st.CachedInfo().Config
	shards := have.Metadata[shardsKey]
	if shards == "" {
		shards = "1"
	}
	if shards != cfg.Metadata[shardsKey] {
		return nil, fmt.Errorf("%w: it was created with %s shards, this node is set to %d (-cluster-shards must stay what the cluster was created with)", errShardCount, shards, s.node.opts.Shards)
	}
	if have.Replicas != cfg.Replicas || have.MaxAge != cfg.MaxAge || have.MaxMsgsPerSubject != cfg.MaxMsgsPerSubject || !have.AllowDirect || have.RePublish == nil || have.Metadata[shardsKey] == "" {
		s.node.log.Info("updating the log's settings", "shard", s.name, "replicas", cfg.Replicas, "max_age", cfg.MaxAge)
		return js.UpdateStream(ctx, cfg)
	}
	return st, nil
}

// append stores the entry in the shard, retrying with the same deduplication id until a
// majority stored it or ctx ends; it returns early with the entry's result when the entry was
// stored and applied although no acknowledgement arrived.
func (s *shard) append(ctx context.Context, e *entry, data []byte, ch chan result) (*result, error) {
	for {
		actx, acancel := context.WithTimeout(ctx, ackTimeout)
		ack, err := s.node.js.PublishMsg(actx, &nats.Msg{Subject: s.subject, Data: data},
			jetstream.WithMsgID(e.id()), jetstream.WithExpectStream(s.name))
		acancel()
		if err == nil {
			s.noteSeen(ack.Sequence)
			return nil, nil
		}
		s.node.log.Debug("log append retried", "shard", s.name, "op", e.Op, "err", err)
		select {
		case r := <-ch:
			return &r, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(retryWait):
		}
	}
}

// sync waits until this node has applied every entry the shard held when it was called: one
// round trip to the shard's leader, like a Raft read index, retried while the shard has no
// leader. Until the node has caught up once, it also waits until its own replica of the
// shard (if it holds one) is current, so that a node that starts with an empty copy never
// takes that copy's answer for the log's.
func (s *shard) sync(ctx context.Context) error {
	for {
		target, err := s.leaderLastSeq(ctx)
		if err != nil {
			return err
		}
		if err := s.applyUpTo(ctx, target); err != nil {
			return err
		}
		if s.caughtUpOnce() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("this node's replica of %s is not current yet: %w", s.name, ctx.Err())
		case <-time.After(retryWait):
		}
	}
}

// leaderLastSeq asks the shard's leader for the sequence of its last entry, again and again
// until a leader answers or ctx ends: during an election the replicas answer with their own
// copies, which prove nothing.
func (s *shard) leaderLastSeq(ctx context.Context) (uint64, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, ackTimeout)
		info, err := s.stream.Info(actx)
		cancel()
		if err == nil {
			if info.Cluster == nil || info.Cluster.Leader != "" {
				s.noteSeen(info.State.LastSeq)
				return info.State.LastSeq, nil
			}
			err = errors.New("the shard has no leader")
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("ask the leader of %s for its last entry: %w (last answer: %v)", s.name, ctx.Err(), err)
		case <-time.After(retryWait):
		}
	}
}

// applyUpTo waits until this node has applied the shard up to seq, reading it directly when
// the leader's republished entries do not arrive.
func (s *shard) applyUpTo(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		applied, ch := s.last, s.appliedCh
		s.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(lateWait):
			s.kick()
		case <-ctx.Done():
			return fmt.Errorf("applied %d of %d entries of %s: %w", applied, seq, s.name, ctx.Err())
		}
	}
}

// caughtUpOnce reports whether this node has caught up with the shard since it started, and
// records it the first time: it has applied what a leader said the shard held, and its own
// replica, if it holds one, is current.
func (s *shard) caughtUpOnce() bool {
	s.mu.Lock()
	done := s.caughtUp
	s.mu.Unlock()
	if done {
		return true
	}
	const acc = server.DEFAULT_GLOBAL_ACCOUNT
	if srv := s.node.srv; srv.JetStreamIsStreamAssigned(acc, s.name) && !srv.JetStreamIsStreamCurrent(acc, s.name) {
		return false
	}
	s.mu.Lock()
	if !s.caughtUp {
		s.caughtUp = true
		s.node.log.Info("caught up with the cluster log", "shard", s.name, "applied", s.last)
	}
	s.mu.Unlock()
	return true
}

// ready reports whether this node has applied the shard as far as it knows it: the leader's
// last entry when a leader answers within readyLeaderWait, otherwise — during an election —
// the last entry this node heard of, once it has caught up with a leader since it started.
func (s *shard) ready(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, readyLeaderWait)
	target, err := s.leaderLastSeq(lctx)
	cancel()
	if err != nil {
		s.mu.Lock()
		caughtUp, seen, applied := s.caughtUp, s.seen, s.last
		s.mu.Unlock()
		if !caughtUp {
			return fmt.Errorf("not caught up with %s yet: %w", s.name, err)
		}
		target = max(seen, applied)
	}
	if err := s.applyUpTo(ctx, target); err != nil {
		return err
	}
	if !s.caughtUpOnce() {
		return fmt.Errorf("this node's replica of %s is not current yet", s.name)
	}
	return nil
}

// progress reports the sequence of the last entry this node applied from the shard, and how
// many entries the shard's leader holds beyond it (-1 when the leader cannot be reached).
func (s *shard) progress(ctx context.Context) (uint64, int64) {
	s.mu.Lock()
	applied, stream := s.last, s.stream
	s.mu.Unlock()
	if stream == nil {
		return applied, -1
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return applied, -1
	}
	return applied, int64(info.State.LastSeq) - int64(applied)
}

// handover hands the shard's leadership, if this node holds it, to another replica, and
// waits until one has taken it or ctx ends.
func (s *shard) handover(ctx context.Context) error {
	const acc = server.DEFAULT_GLOBAL_ACCOUNT
	for s.node.srv.JetStreamIsStreamLeader(acc, s.name) {
		if err := s.node.srv.JetStreamStepdownStream(acc, s.name); err != nil {
			return fmt.Errorf("hand the leadership of %s over: %w", s.name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hand the leadership of %s over: %w", s.name, ctx.Err())
		case <-time.After(retryWait):
		}
	}
	return nil
}

// apply runs one entry's change through the broker's rules at the entry's log time: its
// proposer's time, but never before the shard's entry ahead of it, so that log time only
// moves forward within a shard (and so within a group); applyMu must be held.
func (s *shard) apply(e *entry) (broker.Outcome, error) {
	s.logTime = max(s.logTime, e.At)
	c := e.Change
	c.At = time.UnixMilli(s.logTime)
	return s.node.b.Apply(context.Background(), c)
}

// each runs f for every shard at once and returns their errors joined.
func each(shards []*shard, f func(*shard) error) error {
	if len(shards) == 1 {
		return f(shards[0])
	}
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, s := range shards {
		wg.Go(func() { errs[i] = f(s) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

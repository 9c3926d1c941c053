package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/store"
)

const numShards = 64

// Options wires a Broker to its collaborators.
type Options struct {
	// Config holds the rules; its zero fields take the defaults.
	Config Config
	// Store persists control-plane changes and flushed statuses; required.
	Store store.Store
	// Bus carries published messages to subscribers; required.
	Bus *bus.Bus
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
	// NewID returns a new group id; a random UUID v4 when nil.
	NewID func() string
	// Logger receives operational logs; slog.Default() when nil.
	Logger *slog.Logger
	// OnCommit, when set, is told of every store commit: how long it took, how many changes it
	// carried and whether it failed.
	OnCommit func(d time.Duration, ops int, err error)
	// OnGroupEnd, when set, is told of every group that ends — dissolved, its host gone or
	// expired — once, after its subscribers were told. It must not block.
	OnGroupEnd func(GroupEnd)
}

// Broker owns all Mesh v2 state and applies the API's rules to it. Its methods are safe for
// concurrent use. Its mutations are Changes it applies at once (see Apply).
type Broker struct {
	mutator
	cfg    Config
	store  store.Store
	bus    *bus.Bus
	clock  func() time.Time
	newID  func() string
	log    *slog.Logger
	shards [numShards]shard
	index  domainIndex
	nodes  nodeIndex
	commit *committer
	fan    fanout

	published atomic.Uint64
	lifecycle lifecycle
	onEnd     func(GroupEnd)

	stop      chan struct{}
	loops     sync.WaitGroup
	closeOnce sync.Once
}

// New loads the state kept in opts.Store, dropping what expired meanwhile, and starts the
// background sweeper and status flusher.
func New(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Store == nil || opts.Bus == nil {
		return nil, fmt.Errorf("new broker: store and bus are required")
	}
	b := &Broker{
		cfg:   opts.Config.withDefaults(),
		store: opts.Store,
		bus:   opts.Bus,
		clock: opts.Clock,
		newID: opts.NewID,
		log:   opts.Logger,
		onEnd: opts.OnGroupEnd,
		stop:  make(chan struct{}),
	}
	if b.clock == nil {
		b.clock = time.Now
	}
	if b.newID == nil {
		b.newID = func() string { return uuid.NewString() }
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.mutator = NewMutator(b.Apply)
	for i := range b.shards {
		b.shards[i].groups = make(map[groupKey]*group)
	}
	b.index.domains = make(map[string]*domainState)
	b.nodes.init()
	b.fan.init(b)
	b.commit = newCommitter(opts.Store, b.clock, b.log, opts.OnCommit, b.lockState)
	if err := b.load(ctx); err != nil {
		b.commit.close()
		return nil, err
	}
	b.loops.Add(2)
	go b.every(b.cfg.SweepInterval, b.Sweep)
	go b.every(b.cfg.StatusFlushInterval, b.Flush)
	return b, nil
}

// Config returns the rules the broker applies.
func (b *Broker) Config() Config { return b.cfg }

// Close stops the background work, flushes node statuses and waits until every change has
// reached the store. It does not close the store or the bus.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.stop)
		b.loops.Wait()
		b.Flush()
		b.fan.closeAll()
		err = b.commit.close()
	})
	return err
}

func (b *Broker) every(d time.Duration, f func()) {
	defer b.loops.Done()
	if d <= 0 {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			f()
		}
	}
}

// Now is the broker's clock at millisecond precision, the precision of every stored instant.
func (b *Broker) Now() time.Time { return b.clock().UTC().Truncate(time.Millisecond) }

// mutator embeds Mutator in Broker under an unexported name: its methods are the broker's
// mutations, the field is nobody else's to replace.
type mutator = Mutator

type groupKey struct{ domain, id string }

// Locking. A group is the unit of locking: everything of one group (its fields, members,
// statuses and events) is read and changed under the lock of its shard, chosen by the hash of
// (domain, group id), so two groups of one domain never contend. What concerns a domain as a
// whole — which groups it has and each host's latest group — lives in the domain index,
// under its own lock. The lock order is: the index first, then group shards (several only in
// increasing shard order), then the node index. Nothing holding a shard lock takes the index
// lock. Adding or removing a group holds the index and the group's shard, so the two always
// agree.

// shard holds the groups whose (domain, id) hash to it.
type shard struct {
	mu     sync.Mutex
	groups map[groupKey]*group
	// dirty holds groups whose statuses or event sequence changed since the last flush.
	dirty map[*group]struct{}
}

// domainIndex holds every domain's groups and host index, under its own lock.
type domainIndex struct {
	mu      sync.Mutex
	domains map[string]*domainState
}

// domainState is one domain in the index. Its groups' fields are guarded by their shards.
type domainState struct {
	groups map[string]*group
	// hosts maps a host id to the id of the latest group it created in this domain.
	hosts map[string]string
}

// domain returns the domain's entry, creating it; the index must be locked.
func (x *domainIndex) domain(name string) *domainState {
	ds := x.domains[name]
	if ds == nil {
		ds = &domainState{groups: make(map[string]*group), hosts: make(map[string]string)}
		x.domains[name] = ds
	}
	return ds
}

type group struct {
	Group
	// ended is set once the group died and its end was announced; it is kept, answering for
	// itself, until DeadGroupGrace after its death.
	ended       bool
	seq         uint64
	seqDirty    bool
	members     map[string]*Member
	statuses    map[string]*NodeStatus
	dirtyStatus map[string]struct{}
	events      []Event
	// published counts the messages published to the group.
	published uint64
	// active holds when each node was last active (touch); polledAt when the group's events
	// were last polled. Neither is stored.
	active   map[string]time.Time
	polledAt time.Time
	// batches holds each node's latest event batch for ResendWindow (resend.go).
	batches map[string]sentBatch
}

// shardFor returns the shard of the group id in domain.
func (b *Broker) shardFor(domain, id string) *shard {
	return &b.shards[groupHash(domain, id)%numShards]
}

// lookup returns the group, or nil; the shard must be locked.
func (s *shard) lookup(domain, id string) *group {
	return s.groups[groupKey{domain, id}]
}

// add puts a new group in the index and its shard; both must be locked.
func (b *Broker) add(s *shard, g *group) *domainState {
	ds := b.index.domain(g.Domain)
	ds.groups[g.ID] = g
	s.groups[groupKey{g.Domain, g.ID}] = g
	return ds
}

func (s *shard) markDirty(g *group) {
	if s.dirty == nil {
		s.dirty = make(map[*group]struct{})
	}
	s.dirty[g] = struct{}{}
}

// remove deletes a group and everything that points at it; the index and the group's shard
// must be locked.
func (b *Broker) remove(s *shard, g *group) {
	key := groupKey{g.Domain, g.ID}
	ds := b.index.domains[g.Domain]
	delete(ds.groups, g.ID)
	if ds.hosts[g.HostID] == g.ID {
		delete(ds.hosts, g.HostID)
	}
	if len(ds.groups) == 0 {
		delete(b.index.domains, g.Domain)
	}
	delete(s.groups, key)
	delete(s.dirty, g)
	b.nodes.unset(g.HostID, key)
	for id := range g.members {
		b.nodes.unset(id, key)
	}
	for id := range g.statuses {
		b.nodes.unset(id, key)
	}
}

// check is upstream's checkGroupExists: present, before expiresAt, host heartbeat alive.
func (b *Broker) check(g *group, groupID, domain string, now time.Time) error {
	switch {
	case g == nil:
		return groupNotFound(groupID, domain)
	case now.After(g.ExpiresAt):
		return errorf(GroupNotFound, "Group expired: %s@%s (expiresAt: %s)", groupID, domain, FormatTime(g.ExpiresAt))
	case now.Sub(g.HeartbeatAt) > b.cfg.HostHeartbeatTTL:
		return errorf(GroupNotFound, "Group not found: %s@%s (heartbeat expired)", groupID, domain)
	}
	return nil
}

// diedAt is when the group dies, or died: its expiresAt or its host's heartbeat deadline,
// whichever comes first.
func (b *Broker) diedAt(g *group) time.Time {
	if hb := g.HeartbeatAt.Add(b.cfg.HostHeartbeatTTL); hb.Before(g.ExpiresAt) {
		return hb
	}
	return g.ExpiresAt
}

// forgotten reports whether a dead group is past its grace and can be removed.
func (b *Broker) forgotten(g *group, now time.Time) bool {
	return !b.live(g, now) && now.Sub(b.diedAt(g)) > b.cfg.DeadGroupGrace
}

// live is the one predicate for "this group is alive".
func (b *Broker) live(g *group, now time.Time) bool {
	return g != nil && !now.After(g.ExpiresAt) && now.Sub(g.HeartbeatAt) <= b.cfg.HostHeartbeatTTL
}

func memberLive(m *Member, now time.Time) bool { return m != nil && now.Before(m.ExpiresAt) }

// statusLive reports whether a status is still shown: reported within the member TTL, or its
// node is a live member or the host of the group (spec §9.5).
func (b *Broker) statusLive(g *group, st *NodeStatus, now time.Time) bool {
	return now.Sub(st.Timestamp) < b.cfg.MemberTTL || memberLive(g.members[st.NodeID], now) || st.NodeID == g.HostID
}

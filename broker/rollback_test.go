package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/store"
)

// failingStore is a memory store whose commits fail while failing is set, as a full disk's
// would; a commit may also be held until the test releases it.
type failingStore struct {
	*store.Memory
	mu      sync.Mutex
	failing bool
	hold    chan chan error // when set, each commit sends a channel and waits on it
}

var errDiskFull = errors.New("write meshd.db: no space left on device")

func (s *failingStore) Commit(ctx context.Context, ops []store.Op) error {
	s.mu.Lock()
	failing, hold := s.failing, s.hold
	s.mu.Unlock()
	if len(ops) > 0 && hold != nil {
		reply := make(chan error)
		hold <- reply
		if err := <-reply; err != nil {
			return err
		}
	}
	if len(ops) > 0 && failing {
		return errDiskFull
	}
	return s.Memory.Commit(ctx, ops)
}

func (s *failingStore) set(failing bool) {
	s.mu.Lock()
	s.failing = failing
	s.mu.Unlock()
}

// heldCreate holds every commit of s from now on and starts a createGroup on f's broker: it
// returns once the create's commit is in progress, with the channel that ends that commit
// (nil for success) and the one the create's result arrives on.
func (s *failingStore) heldCreate(f *fixture) (commit chan<- error, created <-chan error) {
	hold := make(chan chan error)
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
	result := make(chan error, 1)
	go func() {
		_, err := f.b.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
		result <- err
	}()
	return <-hold, result
}

func newFailing(t *testing.T) (*fixture, *failingStore) {
	t.Helper()
	st := &failingStore{Memory: store.NewMemory()}
	return newFixtureOn(t, st, brokertest.NewClock()), st
}

// stored is what the store holds now.
func stored(t *testing.T, st store.Store) *store.Snapshot {
	t.Helper()
	snap, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// Finding 5: with the disk full, createGroup failed but its group stayed listed and joinable,
// and the editor's retry was acknowledged through the idempotent path without being written.
func TestFailedCreateLeavesNoTraceAndItsRetryIsWritten(t *testing.T) {
	f, st := newFailing(t)
	ctx := context.Background()
	in := broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true}
	st.set(true)
	_, err := f.b.CreateGroup(ctx, in)
	wantKind(t, err, broker.InternalError, "")
	if gs, _ := f.b.ListGroups("d"); len(gs) != 0 {
		t.Fatalf("a group whose commit failed is listed: %v", gs)
	}
	if _, _, err := f.b.JoinGroup(ctx, "00000000-0000-4000-8000-000000000001", "d", "n"); err == nil {
		t.Fatal("a group whose commit failed is joinable")
	}
	if st := f.b.Stats(); st.CommitErrors != 1 || st.LastCommitError == "" || st.LastCommitErrorAt.IsZero() {
		t.Errorf("stats after one failed commit: %d errors, last %q at %v", st.CommitErrors, st.LastCommitError, st.LastCommitErrorAt)
	}
	if err := f.b.Ready(ctx); err == nil {
		t.Fatal("Ready while every commit fails")
	}
	// A failing create costs what any create costs: nothing is retried in a loop.
	if n := testing.AllocsPerRun(20, func() { _, _ = f.b.CreateGroup(ctx, in) }); n > 200 {
		t.Fatalf("a failed create allocates %.0f times", n)
	}
	st.set(false)
	f.b.Sweep()               // probes the store that failed
	f.create(t, "other", "d") // waits for the probe's commit
	if err := f.b.Ready(ctx); err != nil {
		t.Fatalf("Ready after the store recovered: %v", err)
	}
	g, err := f.b.CreateGroup(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if snap := stored(t, st); len(snap.Groups) != 2 || snap.Groups[1].ID != g.ID {
		t.Fatalf("the acknowledged retry is not stored: %+v", snap.Groups)
	}
	// And the idempotent path answers with it.
	if again, err := f.b.CreateGroup(ctx, in); err != nil || again.ID != g.ID {
		t.Fatalf("idempotent create: %v %v", again, err)
	}
}

// Every kind of change is taken back when its commit fails.
func TestFailedChangesAreRolledBack(t *testing.T) {
	f, st := newFailing(t)
	ctx := context.Background()
	g := f.create(t, "h", "d")
	f.join(t, g, "stays")
	f.clock.Advance(10e9)
	before, _ := f.b.GetGroup(g.ID, "d")
	members := func() map[string]broker.Member {
		ms, _, err := f.b.ListMembers(g.ID, "d")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]broker.Member{}
		for _, m := range ms {
			out[m.NodeID] = m
		}
		return out
	}
	was := members()
	st.set(true)
	_, _, err := f.b.JoinGroup(ctx, g.ID, "d", "new")
	wantKind(t, err, broker.InternalError, "")
	_, err = f.b.SendMemberHeartbeat(ctx, g.ID, "d", "stays")
	wantKind(t, err, broker.InternalError, "")
	err = f.b.LeaveGroup(ctx, g.ID, "d", "stays")
	wantKind(t, err, broker.InternalError, "")
	_, err = f.b.RenewHeartbeat(ctx, g.ID, "d", "h")
	wantKind(t, err, broker.InternalError, "")
	_, err = f.b.DissolveGroup(ctx, g.ID, "d", "h")
	wantKind(t, err, broker.InternalError, "")
	now := members()
	if len(now) != len(was) || now["stays"] != was["stays"] {
		t.Fatalf("members after failed changes %v, want %v", now, was)
	}
	after, err := f.b.GetGroup(g.ID, "d")
	if err != nil || after == nil || !after.HeartbeatAt.Equal(before.HeartbeatAt) {
		t.Fatalf("group after failed changes %+v (%v), want %+v", after, err, before)
	}
	if gs, _ := f.b.ListGroups("d"); len(gs) != 1 {
		t.Fatalf("a failed dissolve removed the group: %v", gs)
	}
	st.set(false)
	if _, err := f.b.DissolveGroup(ctx, g.ID, "d", "h"); err != nil {
		t.Fatal(err)
	}
	if snap := stored(t, st); len(snap.Groups) != 0 || len(snap.Members) != 0 {
		t.Fatalf("store after the dissolve: %+v", snap)
	}
}

// A change queued behind a failing commit was applied on top of it: it fails and is taken
// back too, even when its own commit would succeed.
func TestChangesQueuedBehindAFailedCommitAreRolledBack(t *testing.T) {
	f, st := newFailing(t)
	ctx := context.Background()
	commit, created := st.heldCreate(f)
	gs, _ := f.b.ListGroups("d")
	if len(gs) != 1 {
		t.Fatalf("groups while the create commits: %v", gs)
	}
	joined := make(chan error, 1)
	go func() {
		_, _, err := f.b.JoinGroup(ctx, gs[0].ID, "d", "n")
		joined <- err
	}()
	// Wait until the join is applied (and so queued: both happen under the shard's lock).
	for {
		ms, _, _ := f.b.ListMembers(gs[0].ID, "d")
		if len(ms) == 1 {
			break
		}
	}
	st.mu.Lock()
	st.hold = nil
	st.mu.Unlock()
	commit <- errDiskFull
	wantKind(t, <-created, broker.InternalError, "")
	wantKind(t, <-joined, broker.InternalError, "")
	if gs, _ := f.b.ListGroups("d"); len(gs) != 0 {
		t.Fatalf("groups after the rollback: %v", gs)
	}
	if snap := stored(t, st); len(snap.Groups)+len(snap.Members) != 0 {
		t.Fatalf("store after the rollback: %+v", snap)
	}
}

// A status flush that fails is retried by the next flush.
func TestFailedFlushIsRetried(t *testing.T) {
	f, st := newFailing(t)
	g := f.create(t, "h", "d")
	if _, err := f.b.ReportData(g.ID, "d", "n", []broker.Pair{{Key: "k", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
	st.set(true)
	f.b.Flush()
	// The host's repeated create commits nothing and returns once everything queued before it
	// has been committed or rolled back: here the flush. It shares the flush's error only when
	// the committer took both into one commit, which depends on when the committer woke.
	f.b.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err := f.b.Ready(context.Background()); err == nil {
		t.Fatal("Ready after a failed flush")
	}
	st.set(false)
	f.b.Flush()
	f.create(t, "h", "d")
	if err := f.b.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	if snap := stored(t, st); len(snap.Statuses) != 1 {
		t.Fatalf("the status was not written after the failed flush: %+v", snap.Statuses)
	}
}

// While the store fails, the sweeper's probe keeps failing and Ready stays false; once the
// store accepts commits again, the probe turns Ready true without any client's change.
func TestSweeperProbeFollowsTheStore(t *testing.T) {
	f, st := newFailing(t)
	ctx := context.Background()
	st.set(true)
	_, err := f.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	wantKind(t, err, broker.InternalError, "")
	barrier := func() { _, _ = f.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "x", HostID: "x", Domain: "x"}) }
	f.b.Sweep()
	barrier()
	if err := f.b.Ready(ctx); err == nil {
		t.Fatal("Ready while the probe fails")
	}
	st.set(false)
	f.b.Sweep()
	f.b.Sweep()
	barrier()
	if err := f.b.Ready(ctx); err != nil {
		t.Fatalf("Ready after the probe succeeded: %v", err)
	}
	if snap := stored(t, st); len(snap.Groups) != 1 || snap.Groups[0].Domain != "x" {
		t.Fatalf("the probe left a record: %+v", snap.Groups)
	}
}

// A commit that hangs (a stalled disk) shows: Ready and Stalled fail once it has run for
// longer than CommitStallAfter, and recover when it ends.
func TestStalledCommitShows(t *testing.T) {
	f, st := newFailing(t)
	commit, created := st.heldCreate(f)
	if err := f.b.Ready(context.Background()); err != nil {
		t.Fatalf("Ready while a commit has just begun: %v", err)
	}
	f.clock.Advance(broker.CommitStallAfter + time.Second)
	for _, check := range []func() error{func() error { return f.b.Ready(context.Background()) }, f.b.Stalled} {
		if err := check(); err == nil || !strings.Contains(err.Error(), "a store commit has been running for 11s") {
			t.Fatalf("a commit running for %s: %v", broker.CommitStallAfter+time.Second, err)
		}
	}
	st.mu.Lock()
	st.hold = nil
	st.mu.Unlock()
	commit <- nil
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if err := f.b.Ready(context.Background()); err != nil {
		t.Fatalf("Ready after the commit ended: %v", err)
	}
	if err := f.b.Stalled(); err != nil {
		t.Fatalf("Stalled after the commit ended: %v", err)
	}
}

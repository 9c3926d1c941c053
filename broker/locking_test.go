package broker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/store"
)

// newLockingBroker starts a broker on a memory store and a real embedded bus, with group ids
// counted from 1.
func newLockingBroker(t *testing.T) *Broker {
	t.Helper()
	bs, err := bus.New(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.Close)
	ids := 0
	b, err := New(context.Background(), Options{Store: store.NewMemory(), Bus: bs, Logger: slog.New(slog.DiscardHandler), NewID: func() string {
		ids++ // CreateGroup calls NewID under the domain index's lock
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", ids)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// twoGroupsApart creates groups of one domain until two of them live in different shards.
func twoGroupsApart(t *testing.T, b *Broker, domain string) (Group, Group) {
	t.Helper()
	var first Group
	for i := range numShards + 1 {
		g, err := b.CreateGroup(context.Background(), CreateGroupInput{Name: "g", HostID: fmt.Sprintf("host%d", i), Domain: domain, UseWebSocket: true})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = g
		} else if b.shardFor(domain, g.ID) != b.shardFor(domain, first.ID) {
			return first, g
		}
	}
	t.Fatal("no two groups in different shards")
	return Group{}, Group{}
}

// TestGroupsOfOneDomainDoNotContend holds the lock of one group's shard and shows that every
// operation on another group of the same domain completes meanwhile, while a change of the
// held group waits for the lock.
func TestGroupsOfOneDomainDoNotContend(t *testing.T) {
	ctx := context.Background()
	b := newLockingBroker(t)
	const domain = "d"
	a, other := twoGroupsApart(t, b, domain)
	host := other.HostID
	ops := []struct {
		name string
		run  func() error
	}{
		{"ReportData", func() error {
			_, err := b.ReportData(other.ID, domain, "n", []Pair{{Key: "k", Value: "v"}})
			return err
		}},
		{"FireEvents", func() error { _, err := b.FireEvents(other.ID, domain, "n", []EventInput{{Name: "e"}}); return err }},
		{"RecordEvents", func() error { _, err := b.RecordEvents(other.ID, domain, "n", []EventInput{{Name: "e"}}); return err }},
		{"JoinGroup", func() error { _, _, err := b.JoinGroup(ctx, other.ID, domain, "m"); return err }},
		{"SendMemberHeartbeat", func() error { _, err := b.SendMemberHeartbeat(ctx, other.ID, domain, "m"); return err }},
		{"RenewHeartbeat", func() error { _, err := b.RenewHeartbeat(ctx, other.ID, domain, host); return err }},
		{"ListStatuses", func() error { _, err := b.ListStatuses(other.ID, domain); return err }},
		{"ListMembers", func() error { _, _, err := b.ListMembers(other.ID, domain); return err }},
		{"EventsSince", func() error { _, err := b.EventsSince(other.ID, domain, ""); return err }},
		{"GetGroup", func() error { _, err := b.GetGroup(other.ID, domain); return err }},
		{"GetNodeStatus", func() error { _, err := b.GetNodeStatus("n"); return err }},
		{"LeaveGroup", func() error { return b.LeaveGroup(ctx, other.ID, domain, "m") }},
	}

	held := b.shardFor(domain, a.ID)
	held.mu.Lock()
	locked := true
	defer func() {
		if locked {
			held.mu.Unlock()
		}
	}()
	waiting := make(chan error, 1)
	go func() {
		_, err := b.ReportData(a.ID, domain, "n", []Pair{{Key: "k", Value: "v"}})
		waiting <- err
	}()
	// Operations run one after another, in the order above (a member joins before its
	// heartbeat and leaves last).
	for _, op := range ops {
		done := make(chan error, 1)
		go func() { done <- op.run() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s on the other group: %v", op.name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s on the other group of the domain waited for the held group's lock", op.name)
		}
	}
	select {
	case err := <-waiting:
		t.Fatalf("ReportData on the held group completed without its lock (err %v)", err)
	default:
	}
	held.mu.Unlock()
	locked = false
	if err := <-waiting; err != nil {
		t.Fatalf("ReportData on the held group after unlock: %v", err)
	}
}

// TestDomainIndexLockedBeforeGroups holds the domain index's lock and shows that a change of
// a group does not need it, while a new group (which enters the index) waits for it; this is
// the lock order every domain-wide operation and the rollback rely on.
func TestDomainIndexLockedBeforeGroups(t *testing.T) {
	b := newLockingBroker(t)
	g, err := b.CreateGroup(context.Background(), CreateGroupInput{Name: "g", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	b.index.mu.Lock()
	created := make(chan error, 1)
	go func() {
		_, err := b.CreateGroup(context.Background(), CreateGroupInput{Name: "g2", HostID: "h2", Domain: "d", UseWebSocket: true})
		created <- err
	}()
	reported := make(chan error, 1)
	go func() {
		_, err := b.ReportData(g.ID, g.Domain, "n", nil)
		reported <- err
	}()
	select {
	case err := <-reported:
		if err != nil {
			b.index.mu.Unlock()
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		b.index.mu.Unlock()
		t.Fatal("ReportData waited for the domain index's lock")
	}
	select {
	case err := <-created:
		b.index.mu.Unlock()
		t.Fatalf("CreateGroup completed without the domain index's lock (err %v)", err)
	default:
	}
	b.index.mu.Unlock()
	if err := <-created; err != nil {
		t.Fatal(err)
	}
}

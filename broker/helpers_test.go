package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/store"
)

var epoch = brokertest.Epoch

type fixture struct {
	b     *broker.Broker
	clock *brokertest.Clock
	store store.Store
}

// newFixture starts a broker on a fresh memory store, a real embedded bus and a fake clock.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, store.NewMemory(), brokertest.NewClock())
}

func newFixtureOn(t *testing.T, st store.Store, clock *brokertest.Clock) *fixture {
	t.Helper()
	tb := brokertest.New(t, brokertest.Options{Store: st, Clock: clock})
	return &fixture{b: tb.Broker, clock: clock, store: st}
}

func (f *fixture) create(t *testing.T, host, domain string) broker.Group {
	t.Helper()
	g, err := f.b.CreateGroup(context.Background(), broker.CreateGroupInput{Name: host, HostID: host, Domain: domain, UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (f *fixture) join(t *testing.T, g broker.Group, node string) {
	t.Helper()
	if _, _, err := f.b.JoinGroup(context.Background(), g.ID, g.Domain, node); err != nil {
		t.Fatal(err)
	}
}

// advance moves the clock by d in steps, renewing the host's heartbeat so the group lives.
func (f *fixture) advance(t *testing.T, g broker.Group, d time.Duration) {
	t.Helper()
	for d > 0 {
		step := min(d, 100*time.Second)
		f.clock.Advance(step)
		d -= step
		if _, err := f.b.RenewHeartbeat(context.Background(), g.ID, g.Domain, g.HostID); err != nil {
			t.Fatal(err)
		}
	}
}

// wantKind fails unless err is a broker Error of kind whose message contains substr.
func wantKind(t *testing.T, err error, kind broker.Kind, substr string) {
	t.Helper()
	e, ok := err.(*broker.Error)
	if !ok {
		t.Fatalf("error = %v (%T), want %s", err, err, kind)
	}
	if e.Kind != kind || !strings.Contains(e.Message, substr) {
		t.Fatalf("error = %s %q, want %s containing %q", e.Kind, e.Message, kind, substr)
	}
}

func ptr[T any](v T) *T { return &v }

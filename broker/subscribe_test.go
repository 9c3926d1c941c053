package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// collect subscribes to a group and returns a channel of its messages.
func collect(t *testing.T, f *fixture, g broker.Group) <-chan *broker.Message {
	t.Helper()
	ch := make(chan *broker.Message, 10000)
	cancel, err := f.b.Subscribe(g.Domain, g.ID, func(m *broker.Message) { ch <- m })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return ch
}

func TestSubscribe(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	other := f.create(t, "host2", "d")
	msgs := collect(t, f, g)
	otherMsgs := collect(t, f, other)

	f.b.ReportData(g.ID, g.Domain, "m", []broker.Pair{{Key: "k", Value: "v"}})
	f.b.FireEvents(g.ID, g.Domain, "m", inputs("e1", "e2"))
	f.b.RecordEvents(g.ID, g.Domain, "p", inputs("e3"))
	f.b.DissolveGroup(ctx, g.ID, g.Domain, "host")

	if m := brokertest.Receive(t, msgs); m.Status == nil || m.Status.Data[0].Value != "v" || m.Batch != nil {
		t.Fatalf("first message = %+v", m)
	}
	if m := brokertest.Receive(t, msgs); m.Batch == nil || names(m.Batch.Events) != "e1,e2" || m.Batch.Events[0].Payload != nil {
		t.Fatalf("second message = %+v", m)
	}
	if m := brokertest.Receive(t, msgs); m.Batch == nil || names(m.Batch.Events) != "e3" || m.Batch.FiredByNodeID != "p" {
		t.Fatalf("recorded events reach subscribers: %+v", m)
	}
	if m := brokertest.Receive(t, msgs); m.Dissolve == nil || m.Dissolve.Message != "Group 00000000-0000-4000-8000-000000000001@d has been dissolved successfully." {
		t.Fatalf("dissolve message = %+v", m)
	}
	f.b.ReportData(other.ID, other.Domain, "x", nil)
	if m := brokertest.Receive(t, otherMsgs); m.GroupID != other.ID {
		t.Fatalf("other group got %+v", m)
	}
	select {
	case m := <-msgs:
		t.Fatalf("message after dissolve or from another group: %+v", m)
	default:
	}
}

func TestSubscribeOrderUnderConcurrentPublishers(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	msgs := collect(t, f, g)
	const publishers, each = 8, 250
	done := make(chan struct{})
	for p := range publishers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				f.b.ReportData(g.ID, g.Domain, fmt.Sprint(p), []broker.Pair{{Key: "i", Value: fmt.Sprint(i)}})
			}
		}()
	}
	for range publishers {
		<-done
	}
	last := map[string]int{}
	var prev time.Time
	for range publishers * each {
		m := brokertest.Receive(t, msgs)
		var i int
		fmt.Sscan(m.Status.Data[0].Value, &i)
		if seen, ok := last[m.Status.NodeID]; ok && i != seen+1 {
			t.Fatalf("publisher %s: %d after %d", m.Status.NodeID, i, seen)
		}
		last[m.Status.NodeID] = i
		if m.Status.Timestamp.Before(prev) {
			t.Fatal("messages out of application order")
		}
		prev = m.Status.Timestamp
	}
}

package bus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/broker/bus"
)

// A subscriber so far behind that its messages are dropped is counted and logged once, not
// once per message.
func TestSlowConsumerDropsAreLogged(t *testing.T) {
	var logs brokertest.Logs
	b := newBus(t, bus.Options{MaxPending: 4096, Logger: logs.Logger()})
	release := make(chan struct{})
	defer close(release)
	if _, err := b.Subscribe("d", "g", decodeText, func(any) { <-release }); err != nil {
		t.Fatal(err)
	}
	msg := strings.Repeat("x", 1024)
	for range 100 {
		if err := publish(b, "d", "g", msg); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "bus slow consumer"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no slow consumer logged; dropped %d; log:\n%s", b.Dropped(), logs.String())
		}
	}
	if b.Dropped() == 0 {
		t.Fatal("drops logged but not counted")
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Fatalf("%d log lines:\n%s", n, logs.String())
	}
}

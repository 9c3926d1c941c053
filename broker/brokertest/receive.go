package brokertest

import (
	"testing"
	"time"
)

// ReceiveWithin is how long Receive waits: generous, so that a busy machine never fails a test
// that waits for an event.
const ReceiveWithin = 30 * time.Second

// Receive returns the next value from ch, failing the test when none arrives within
// ReceiveWithin or ch is closed.
func Receive[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("the channel closed before a value arrived")
		}
		return v
	case <-time.After(ReceiveWithin):
		t.Fatalf("nothing arrived within %v", ReceiveWithin)
		var zero T
		return zero
	}
}

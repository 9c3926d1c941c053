package bus

import (
	"testing"
	"time"
)

func TestLogLimit(t *testing.T) {
	l := logLimit{every: 10 * time.Second}
	t0 := time.Date(2026, 3, 1, 8, 45, 0, 0, time.UTC)
	steps := []struct {
		at   time.Duration
		ok   bool
		held int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{11 * time.Second, false, 0},
		{time.Minute, true, 1},
	}
	for _, s := range steps {
		if ok, held := l.allow(t0.Add(s.at)); ok != s.ok || held != s.held {
			t.Fatalf("at %v: allow = %v, %d; want %v, %d", s.at, ok, held, s.ok, s.held)
		}
	}
}

package loglimit

import (
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	l := Limit{Every: 10 * time.Second}
	t0 := time.Date(2026, 3, 1, 8, 45, 0, 0, time.UTC)
	steps := []struct {
		name string
		at   time.Duration
		ok   bool
		held int
	}{
		{"the first line", 0, true, 0},
		{"a second later", time.Second, false, 0},
		{"just inside the interval", 9 * time.Second, false, 0},
		{"the interval passed: two held back", 10 * time.Second, true, 2},
		{"inside the next interval", 11 * time.Second, false, 0},
		{"much later: one held back", time.Minute, true, 1},
	}
	for _, s := range steps {
		if ok, held := l.Allow(t0.Add(s.at)); ok != s.ok || held != s.held {
			t.Fatalf("%s (at %v): Allow = %v, %d; want %v, %d", s.name, s.at, ok, held, s.ok, s.held)
		}
	}
	var zero Limit
	for i := range 3 {
		if ok, held := zero.Allow(t0); !ok || held != 0 {
			t.Fatalf("the zero Limit held back line %d", i)
		}
	}
}

// Package brokertest starts real brokers for tests: a real embedded bus, a memory (or given)
// store and a clock the test moves by hand.
package brokertest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/store"
)

// Epoch is where every Clock starts unless told otherwise: a Sunday morning lesson.
var Epoch = time.Date(2026, 3, 1, 8, 45, 2, 431_000_000, time.UTC)

// Clock is a clock that only moves when the test advances it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at Epoch.
func NewClock() *Clock { return &Clock{t: Epoch} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Options adjusts a test broker; zero values give a fresh memory store, a new Clock,
// sequential group ids and the default config without background sweeps or flushes.
type Options struct {
	Store  store.Store
	Clock  *Clock
	Config *broker.Config
	// Logger receives the broker's log; discarded when nil.
	Logger *slog.Logger
	// OnCommit, when set, is told of every store commit, as broker.Options.OnCommit.
	OnCommit func(d time.Duration, ops int, err error)
	// OnGroupEnd, when set, is told of every group that ends, as broker.Options.OnGroupEnd.
	OnGroupEnd func(broker.GroupEnd)
}

// Broker is a running test broker with its parts.
type Broker struct {
	*broker.Broker
	Clock *Clock
	Store store.Store
	Bus   *bus.Bus
}

// Config is the default config with the background sweeper and flusher off, so that tests
// decide when they run.
func Config() broker.Config {
	cfg := broker.DefaultConfig()
	cfg.SweepInterval, cfg.StatusFlushInterval = -1, -1
	return cfg
}

// New starts a broker that is closed when the test ends.
func New(t testing.TB, opts Options) *Broker {
	t.Helper()
	if opts.Store == nil {
		opts.Store = store.NewMemory()
	}
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := Config()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	bs, err := bus.New(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.Close)
	var mu sync.Mutex
	ids := 0
	b, err := broker.New(context.Background(), broker.Options{
		Config:     cfg,
		Store:      opts.Store,
		Bus:        bs,
		Clock:      opts.Clock.Now,
		Logger:     opts.Logger,
		OnCommit:   opts.OnCommit,
		OnGroupEnd: opts.OnGroupEnd,
		NewID: func() string {
			mu.Lock()
			defer mu.Unlock()
			ids++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", ids)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &Broker{Broker: b, Clock: opts.Clock, Store: opts.Store, Bus: bs}
}

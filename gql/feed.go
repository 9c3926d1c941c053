package gql

import (
	"context"
	"reflect"
	"sync"
	"time"
)

// subscriptionBuffer is how many values one graphql-go subscription execution may fall
// behind its group; one more ends the execution (errSlowSubscription) instead of making the
// group's delivery wait.
const subscriptionBuffer = 256

// feed is the bounded queue between the resolver of a graphql-go subscription execution,
// which pushes each value with its publication time on the group's delivery goroutine, and
// the execution's delivery loop, which hands graphql-go one value at a time and pairs it with
// the one response graphql-go makes of it. Pushing never blocks.
type feed struct {
	wake chan struct{} // signals that items or lagged changed

	mu     sync.Mutex
	out    reflect.Value // the resolver's channel that graphql-go receives values from
	items  []feedItem
	lagged bool
}

// feedItem is one subscription value with the publication time of its message.
type feedItem struct {
	value     any
	published time.Time
}

// feedKey carries the execution's feed in the context graphql-go gives the resolver.
type feedKey struct{}

func newFeed() *feed { return &feed{wake: make(chan struct{}, 1)} }

// feedOf returns the feed of a subscription's context, or nil.
func feedOf(ctx context.Context) *feed {
	f, _ := ctx.Value(feedKey{}).(*feed)
	return f
}

// bind names the channel graphql-go receives the resolver's values from.
func (f *feed) bind(ch any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = reflect.ValueOf(ch)
}

// push queues a value; a full feed marks the execution lagged instead of waiting.
func (f *feed) push(v any, published time.Time) {
	f.mu.Lock()
	if len(f.items) >= subscriptionBuffer {
		f.lagged = true
	} else if !f.lagged {
		f.items = append(f.items, feedItem{v, published})
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// state returns the resolver's channel and whether the feed has lagged.
func (f *feed) state() (out reflect.Value, lagged bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out, f.lagged
}

// pop takes the oldest value, if any, and returns the resolver's channel and whether the feed
// has lagged.
func (f *feed) pop() (item *feedItem, out reflect.Value, lagged bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lagged || len(f.items) == 0 {
		return nil, f.out, f.lagged
	}
	it := f.items[0]
	f.items[0] = feedItem{}
	f.items = f.items[1:]
	return &it, f.out, false
}

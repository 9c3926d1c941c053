package broker

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smalruby/meshd/broker/bus"
)

// fanout keeps one bus subscription per group that has local listeners and hands each
// message to every listener in publish order: the published *Message itself, or, from a
// client outside the process, its JSON decoded once.
type fanout struct {
	b      *Broker
	mu     sync.Mutex
	groups map[groupKey]*groupListeners
	nextID uint64
}

type groupListeners struct {
	sub       *bus.Subscription
	listeners atomic.Pointer[[]listener]
}

type listener struct {
	id uint64
	fn func(*Message)
}

func (f *fanout) init(b *Broker) {
	f.b = b
	f.groups = make(map[groupKey]*groupListeners)
}

// publish sends a message to its group's subscribers and reports whether it went out;
// callers serialise publishes of one group (they hold its shard lock), which fixes the
// delivery order.
func (b *Broker) publish(m *Message) bool {
	m.Published = time.Now()
	err := b.bus.Publish(m.Domain, m.GroupID, m, func() ([]byte, error) { return json.Marshal(m) })
	if err != nil {
		b.log.Error("publish failed", "group", m.GroupID, "domain", m.Domain, "err", err)
		return false
	}
	b.published.Add(1)
	return true
}

// Subscribe calls fn with every message published to the group from now on, in publish order,
// until the returned cancel function is called. fn must not block: it runs on the group's
// delivery goroutine. Subscribing to a group that does not exist succeeds.
func (b *Broker) Subscribe(domain, groupID string, fn func(*Message)) (cancel func(), err error) {
	if err := checkArgs(domain, "groupId", groupID); err != nil {
		return nil, err
	}
	return b.fan.add(groupKey{domain, groupID}, fn)
}

func (f *fanout) add(key groupKey, fn func(*Message)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gl := f.groups[key]
	if gl == nil {
		gl = &groupListeners{}
		gl.listeners.Store(&[]listener{})
		sub, err := f.b.bus.Subscribe(key.domain, key.id, decodeMessage, gl.deliver)
		if err != nil {
			return nil, internal(fmt.Errorf("subscribe %s@%s: %w", key.id, key.domain, err))
		}
		gl.sub = sub
		f.groups[key] = gl
	}
	f.nextID++
	id := f.nextID
	old := *gl.listeners.Load()
	next := append(old[:len(old):len(old)], listener{id: id, fn: fn})
	gl.listeners.Store(&next)
	var once sync.Once
	return func() { once.Do(func() { f.remove(key, id) }) }, nil
}

func (f *fanout) remove(key groupKey, id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gl := f.groups[key]
	if gl == nil {
		return
	}
	old := *gl.listeners.Load()
	next := make([]listener, 0, len(old))
	for _, l := range old {
		if l.id != id {
			next = append(next, l)
		}
	}
	gl.listeners.Store(&next)
	if len(next) == 0 {
		delete(f.groups, key)
		if err := gl.sub.Unsubscribe(); err != nil {
			f.b.log.Warn("unsubscribe failed", "group", key.id, "domain", key.domain, "err", err)
		}
	}
}

func (f *fanout) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, gl := range f.groups {
		_ = gl.sub.Unsubscribe()
		delete(f.groups, key)
	}
}

// deliver hands one message to every listener of the group.
func (gl *groupListeners) deliver(v any) {
	m := v.(*Message)
	for _, l := range *gl.listeners.Load() {
		l.fn(m)
	}
}

// decodeMessage reads a message a client outside the process published on a group's subject.
func decodeMessage(data []byte) (any, error) {
	m := new(Message)
	if err := json.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

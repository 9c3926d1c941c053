package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Spreading the shards' leaders. JetStream's Raft elects whichever replica asks first, which
// often puts two shards' leaders on one node. Each shard has a preferred leader instead: among
// its replicas' names in order, the one at the shard's index (round robin), so that with
// as many shards as nodes each node leads one. The leader of a shard hands it to the preferred
// replica when that replica is online, caught up and not stopping; while it is not, the
// leadership stays where elections put it.
const (
	// balanceInterval separates a node's checks of the shards it leads.
	balanceInterval = 5 * time.Second
	// leavingSubject is where a node that hands over announces that it stops, so that no other
	// node gives it a leadership back.
	leavingSubject = "meshd.leaving"
	// leavingMemory is how long a node that announced it stops is not given a leadership.
	leavingMemory = time.Minute
	// stepdownSubject is JetStream's API that asks a stream's leader to step down.
	stepdownSubject = "$JS.API.STREAM.LEADER.STEPDOWN."
)

// leavers remembers which nodes announced that they stop, and when.
type leavers struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (l *leavers) note(name string) {
	l.mu.Lock()
	if l.at == nil {
		l.at = make(map[string]time.Time)
	}
	l.at[name] = time.Now()
	l.mu.Unlock()
}

func (l *leavers) recent(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.at[name]
	return ok && time.Since(at) < leavingMemory
}

// balance checks every balanceInterval, until the node stops, whether a shard this node leads
// has a preferred leader that can take it, and hands one such shard over per check.
func (n *Node) balance() {
	defer n.loops.Done()
	sub, err := n.nc.Subscribe(leavingSubject, func(m *nats.Msg) { n.leavers.note(string(m.Data)) })
	if err != nil {
		n.log.Warn("leaders will not be spread", "err", err)
		return
	}
	defer sub.Unsubscribe()
	t := time.NewTicker(balanceInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if n.stopping.Load() {
			continue
		}
		for _, s := range n.shards {
			if moved, err := s.handToPreferred(n.bg); err != nil {
				n.log.Debug("shard leadership not moved", "shard", s.name, "err", err)
			} else if moved {
				break
			}
		}
	}
}

// announceLeaving tells the other nodes that this one stops.
func (n *Node) announceLeaving() {
	if err := n.nc.Publish(leavingSubject, []byte(n.opts.NodeName)); err != nil {
		n.log.Warn("could not announce the stop", "err", err)
	}
	n.nc.Flush()
}

// handToPreferred asks JetStream to move the shard's leadership from this node to the shard's
// preferred leader, if this node leads the shard and the preferred replica can take it. It
// reports whether it asked.
func (s *shard) handToPreferred(ctx context.Context) (bool, error) {
	n := s.node
	if !n.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, s.name) {
		return false, nil
	}
	ictx, cancel := context.WithTimeout(ctx, ackTimeout)
	info, err := s.stream.Info(ictx)
	cancel()
	if err != nil {
		return false, err
	}
	if info.Cluster == nil || info.Cluster.Leader != n.opts.NodeName {
		return false, nil
	}
	names := []string{info.Cluster.Leader}
	for _, p := range info.Cluster.Replicas {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	preferred := names[s.index%len(names)]
	if preferred == n.opts.NodeName || n.leavers.recent(preferred) {
		return false, nil
	}
	i := slices.IndexFunc(info.Cluster.Replicas, func(p *jetstream.PeerInfo) bool { return p.Name == preferred })
	if p := info.Cluster.Replicas[i]; !p.Current || p.Offline || p.Lag > 0 || p.Active > time.Second {
		return false, nil
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	rctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	msg, err := n.nc.RequestWithContext(rctx, stepdownSubject+s.name, req)
	if err != nil {
		return false, fmt.Errorf("ask %s to step down: %w", s.name, err)
	}
	var resp struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil || resp.Error != nil {
		return false, fmt.Errorf("ask %s to step down: %v %v", s.name, err, resp.Error)
	}
	n.log.Info("handed a shard's leadership to its preferred leader, to spread the leaders", "shard", s.name, "to", preferred)
	return true, nil
}

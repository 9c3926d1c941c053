package console

import (
	"slices"
	"sync"
	"time"

	"github.com/smalruby/meshd/broker"
)

// maxEnded is how many ended groups the console lists.
const maxEnded = 20

// EndedGroup is a group that ended, as the console lists it.
type EndedGroup struct {
	ID        string    `json:"id"`
	Domain    string    `json:"domain"`
	Kana      string    `json:"kana"`
	CreatedAt time.Time `json:"createdAt"`
	At        time.Time `json:"at"`
	// Reason is broker.EndReason: "dissolved", "host gone" or "expired".
	Reason  string `json:"reason"`
	Members int    `json:"members"`
}

// Ended remembers the groups that ended lately, newest first. It is made before the broker,
// whose Options.OnGroupEnd is its Add, and handed to the console in Options.Ended.
type Ended struct {
	mu     sync.Mutex
	groups []EndedGroup
}

// Add records a group that ended; it is a broker.Options.OnGroupEnd hook.
func (e *Ended) Add(g broker.GroupEnd) {
	eg := EndedGroup{ID: g.Group.ID, Domain: g.Group.Domain, Kana: Kana(g.Group.Name), CreatedAt: g.Group.CreatedAt, At: g.At, Reason: string(g.Reason), Members: g.Members}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.groups = append([]EndedGroup{eg}, e.groups[:min(len(e.groups), maxEnded-1)]...)
}

// list returns the ended groups, newest first.
func (e *Ended) list() []EndedGroup {
	if e == nil {
		return []EndedGroup{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]EndedGroup{}, e.groups...)
}

// endedGroups are the groups to list as ended, newest first: those the broker told of, and
// the dead groups of snap it has not told of (a restart forgot the telling; meshd keeps a dead
// group until its grace ends), each once.
func endedGroups(told []EndedGroup, snap *broker.Snapshot) []EndedGroup {
	out := told
	for i := range snap.Groups {
		g := &snap.Groups[i]
		if g.Live || slices.ContainsFunc(told, func(e EndedGroup) bool {
			return e.ID == g.ID && e.Domain == g.Domain && e.CreatedAt.Equal(g.CreatedAt)
		}) {
			continue
		}
		// It died when its host's heartbeat lapsed or its time was up, whichever came first.
		at, reason := g.HostDeadline, broker.EndHostGone
		if !g.ExpiresAt.After(at) {
			at, reason = g.ExpiresAt, broker.EndExpired
		}
		out = append(out, EndedGroup{ID: g.ID, Domain: g.Domain, Kana: Kana(g.Name), CreatedAt: g.CreatedAt, At: at, Reason: string(reason), Members: len(g.Members)})
	}
	slices.SortStableFunc(out, func(a, b EndedGroup) int { return b.At.Compare(a.At) })
	return out
}

package console

import (
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/smalruby/meshd/gql"
)

const (
	// historyLen is how many one-second samples the charts show.
	historyLen = 120
	// errorWindow is how far back "recent errors" reach.
	errorWindow = 5 * time.Minute
)

// sampler turns the broker's snapshot, the realtime subscription counts and the server's
// health into a Status once per tick; each group's message rate comes from the count in its
// snapshot. When nobody watches it forgets its history.
type sampler struct {
	opts     Options
	presence presence
	// record is the lesson's recent history; it outlives release, so that a reload finds it.
	record *record

	mu     sync.Mutex
	groups map[gql.GroupRef]*groupTrack
	prev   struct {
		at        time.Time
		published uint64
		health    Health
	}
	msgHist, reqHist []float64
	errHist          []errSample
	latest           *Status
	latestJSON       []byte
	latestAt         time.Time
}

// groupTrack is what the sampler remembers of a group between samples.
type groupTrack struct {
	last    uint64
	history []float64
	seen    bool
}

type errSample struct {
	at     time.Time
	errors map[string]uint64
}

func newSampler(opts Options) *sampler {
	return &sampler{opts: opts, presence: newPresence(opts.Config), groups: map[gql.GroupRef]*groupTrack{}, record: newRecord()}
}

// push appends v to a history of at most historyLen samples.
func push(h []float64, v float64) []float64 {
	if len(h) == historyLen {
		copy(h, h[1:])
		h = h[:historyLen-1]
	}
	return append(h, v)
}

// sample takes one sample at now and returns its status, encoded.
func (s *sampler) sample(now time.Time) (*Status, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.opts.Snapshot()
	var subs map[gql.GroupRef]int
	if s.opts.Subscriptions != nil {
		subs = s.opts.Subscriptions()
	}
	var h Health
	if s.opts.Health != nil {
		h = s.opts.Health()
	}
	dt := now.Sub(s.prev.at).Seconds()
	hasPrev := !s.prev.at.IsZero() && dt > 0
	rate := func(cur, prev float64) float64 {
		if !hasPrev || cur < prev {
			return 0
		}
		return (cur - prev) / dt
	}

	st := &Status{Taken: snap.Taken}
	st.Server = ServerStatus{
		Version:       h.Version,
		Sockets:       h.Sockets,
		Subscriptions: h.Subscriptions,
		MemoryBytes:   h.MemoryBytes,
		HeapBytes:     h.HeapBytes,
		Goroutines:    h.Goroutines,
		Store:         h.Store,
	}
	if !h.Started.IsZero() {
		st.Server.UptimeSeconds = now.Sub(h.Started).Seconds()
	}
	if hasPrev {
		st.Server.RateSeconds = dt
		st.Server.MessagesPerSecond = rate(float64(snap.Published), float64(s.prev.published))
		st.Server.RequestsPerSecond = rate(float64(h.Requests), float64(s.prev.health.Requests))
		st.Server.CPUPercent = 100 * rate(h.CPUSeconds, s.prev.health.CPUSeconds)
		s.msgHist = push(s.msgHist, st.Server.MessagesPerSecond)
		s.reqHist = push(s.reqHist, st.Server.RequestsPerSecond)
	}
	st.History.Messages = append([]float64{}, s.msgHist...)
	st.History.Requests = append([]float64{}, s.reqHist...)
	st.Server.RecentErrors, st.Server.ErrorWindowSeconds = s.recentErrors(now, h.Errors)
	st.Server.Light, st.Server.Problems = light(now, st.Server)
	// A group shows in one place: live in the classroom, dead (in its grace, until meshd
	// forgets it) among the ended groups.
	st.Ended = endedGroups(s.opts.Ended.list(), &snap)
	s.record.observe(&snap, st.Ended)

	for _, t := range s.groups {
		t.seen = false
	}
	var dom *DomainStatus
	for i := range snap.Groups {
		g := &snap.Groups[i]
		if !g.Live {
			continue
		}
		st.Server.Groups++
		ref := gql.GroupRef{Domain: g.Domain, GroupID: g.ID}
		gs := groupStatus(g, subs[ref], s.presence, snap.Taken)
		st.Server.Members += len(g.Members)
		t := s.groups[ref]
		if t == nil {
			t = &groupTrack{history: []float64{}}
			s.groups[ref] = t
		} else if hasPrev {
			gs.MessagesPerSecond = rate(float64(g.Published), float64(t.last))
			t.history = push(t.history, gs.MessagesPerSecond)
		}
		t.seen = true
		t.last = g.Published
		gs.History = append([]float64{}, t.history...)
		if dom == nil || dom.Domain != g.Domain {
			st.Domains = append(st.Domains, DomainStatus{Domain: g.Domain})
			dom = &st.Domains[len(st.Domains)-1]
		}
		dom.Groups = append(dom.Groups, gs)
	}
	for ref, t := range s.groups {
		if !t.seen {
			delete(s.groups, ref)
		}
	}
	if st.Domains == nil {
		st.Domains = []DomainStatus{}
	}
	s.prev.at, s.prev.published, s.prev.health = now, snap.Published, h
	data, err := json.Marshal(st)
	if err != nil {
		s.opts.Logger.Error("console: encode status", "err", err)
	}
	s.latest, s.latestJSON, s.latestAt = st, data, now
	return st, data
}

// recentErrors returns the errors of the last errorWindow (or as far back as samples go) and
// the span they cover.
func (s *sampler) recentErrors(now time.Time, cur map[string]uint64) (map[string]uint64, float64) {
	s.errHist = append(s.errHist, errSample{at: now, errors: maps.Clone(cur)})
	for len(s.errHist) > 1 && now.Sub(s.errHist[1].at) >= errorWindow {
		s.errHist = s.errHist[1:]
	}
	base := s.errHist[0]
	out := map[string]uint64{}
	for k, v := range cur {
		if d := v - base.errors[k]; v >= base.errors[k] && d > 0 {
			out[k] = d
		}
	}
	return out, now.Sub(base.at).Seconds()
}

// release forgets the groups and the previous sample, so that the next sample starts
// afresh.
func (s *sampler) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.groups)
	s.prev.at = time.Time{}
	s.msgHist, s.reqHist, s.errHist = nil, nil, nil
}

// current returns the latest status if it is younger than maxAge, else samples now.
func (s *sampler) current(now time.Time, maxAge time.Duration) (*Status, []byte) {
	s.mu.Lock()
	if s.latest != nil && now.Sub(s.latestAt) < maxAge {
		st, data := s.latest, s.latestJSON
		s.mu.Unlock()
		return st, data
	}
	s.mu.Unlock()
	return s.sample(now)
}

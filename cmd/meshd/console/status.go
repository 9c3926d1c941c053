package console

import (
	"cmp"
	"time"

	"github.com/smalruby/meshd/broker"
)

// Health is what the server reports about itself at one moment; counters are totals since
// start, from which the console derives rates.
type Health struct {
	Version string
	Started time.Time
	// Sockets are the open realtime WebSockets; Subscriptions their live subscriptions.
	Sockets       int64
	Subscriptions int64
	// Requests counts the queries and mutations served; Errors those that failed, by errorType.
	Requests uint64
	Errors   map[string]uint64
	// CPUSeconds is the process's CPU time (0 where the system does not tell); MemoryBytes
	// the memory the Go runtime holds from the system; HeapBytes the live heap objects.
	CPUSeconds  float64
	MemoryBytes uint64
	HeapBytes   uint64
	Goroutines  int
	Store       StoreHealth
}

// StoreHealth is the state of the store.
type StoreHealth struct {
	Kind         string `json:"kind"`
	Path         string `json:"path,omitempty"`
	Bytes        int64  `json:"bytes"`
	CommitErrors uint64 `json:"commitErrors"`
	// LastError is the latest failed commit's error, "" when none failed.
	LastError   string     `json:"lastError,omitempty"`
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
}

// Status is the console's whole view, as /statusz returns it and the page receives it.
type Status struct {
	Taken  time.Time    `json:"taken"`
	Server ServerStatus `json:"server"`
	// History holds the server's messages and requests per second over the last historyLen
	// seconds, oldest first.
	History struct {
		Messages []float64 `json:"messages"`
		Requests []float64 `json:"requests"`
	} `json:"history"`
	// Domains hold the groups in progress; a group that died is among Ended instead, while
	// meshd still keeps it for its grace.
	Domains []DomainStatus `json:"domains"`
	// Ended are the groups that ended lately, newest first.
	Ended []EndedGroup `json:"ended"`
}

// ServerStatus is the server's health with its rates.
type ServerStatus struct {
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptimeSeconds"`
	Sockets       int64   `json:"sockets"`
	Subscriptions int64   `json:"subscriptions"`
	// RateSeconds is the span the rates were measured over; 0 until two samples exist.
	RateSeconds       float64 `json:"rateSeconds"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	MessagesPerSecond float64 `json:"messagesPerSecond"`
	CPUPercent        float64 `json:"cpuPercent"`
	MemoryBytes       uint64  `json:"memoryBytes"`
	HeapBytes         uint64  `json:"heapBytes"`
	Goroutines        int     `json:"goroutines"`
	// RecentErrors counts failed operations by errorType over the last ErrorWindowSeconds.
	RecentErrors       map[string]uint64 `json:"recentErrors"`
	ErrorWindowSeconds float64           `json:"errorWindowSeconds"`
	Groups             int               `json:"groups"`
	Members            int               `json:"members"`
	Store              StoreHealth       `json:"store"`
	// Light is the server's health in one word: "ok", or "bad" with its Problems (a failing
	// store, failed operations other than a pupil's ordinary GroupNotFound / NodeNotFound).
	Light    string   `json:"light"`
	Problems []string `json:"problems"`
}

// DomainStatus is one domain's groups.
type DomainStatus struct {
	Domain string        `json:"domain"`
	Groups []GroupStatus `json:"groups"`
}

// GroupStatus is one group as the console shows it.
type GroupStatus struct {
	ID     string `json:"id"`
	FullID string `json:"fullId"`
	Name   string `json:"name"`
	// Kana is the name as the editor shows it, and the join name pupils type.
	Kana         string    `json:"kana"`
	HostID       string    `json:"hostId"`
	HostKana     string    `json:"hostKana"`
	UseWebSocket bool      `json:"useWebSocket"`
	CreatedAt    time.Time `json:"createdAt"`
	ExpiresAt    time.Time `json:"expiresAt"`
	HostDeadline time.Time `json:"hostDeadline"`
	// HostLastActive and HostState are the host's last activity and state; HostLate says the
	// host missed its heartbeat (its screen may have been closed).
	HostLastActive time.Time `json:"hostLastActive"`
	HostState      string    `json:"hostState"`
	HostLate       bool      `json:"hostLate"`
	// Joined counts the host and the live members; PolledAt is the last poll of the group's
	// events (zero when never).
	Joined   int       `json:"joined"`
	PolledAt time.Time `json:"polledAt"`
	// Subscriptions counts the group's live realtime subscriptions on this server.
	Subscriptions     int             `json:"subscriptions"`
	MessagesPerSecond float64         `json:"messagesPerSecond"`
	History           []float64       `json:"history"`
	Members           []MemberStatus  `json:"members"`
	Nodes             []NodeVariables `json:"nodes"`
	Events            []EventStatus   `json:"events"`
}

// MemberStatus is one membership.
type MemberStatus struct {
	NodeID    string    `json:"nodeId"`
	Kana      string    `json:"kana"`
	JoinedAt  time.Time `json:"joinedAt"`
	LastSeen  time.Time `json:"lastSeen"`
	ExpiresAt time.Time `json:"expiresAt"`
	Live      bool      `json:"live"`
	// LastActive is the last activity of any kind; State is StateActive, StateIdle or
	// StateSilent.
	LastActive time.Time `json:"lastActive"`
	State      string    `json:"state"`
}

// NodeVariables is the latest variables one node reported.
type NodeVariables struct {
	NodeID    string      `json:"nodeId"`
	Kana      string      `json:"kana"`
	Reported  time.Time   `json:"reported"`
	Variables [][2]string `json:"variables"`
}

// EventStatus is one fired event (a Scratch message) of the feed and of the lesson's record.
type EventStatus struct {
	// ID is unique within the group, for the feed to add each event once.
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	From     string    `json:"from"`
	FromKana string    `json:"fromKana"`
	At       time.Time `json:"at"`
}

// groupStatus describes a live group for the page (the sampler leaves dead ones to the ended list).
func groupStatus(g *broker.GroupSnapshot, subs int, p presence, now time.Time) GroupStatus {
	hostState := p.state(g.HostLastActive, now, true, p.host)
	gs := GroupStatus{
		ID: g.ID, FullID: g.FullID(), Name: g.Name, Kana: Kana(g.Name), HostID: g.HostID, HostKana: Kana(g.HostID),
		UseWebSocket: g.UseWebSocket, CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, HostDeadline: g.HostDeadline,
		Subscriptions: subs, HostLastActive: g.HostLastActive, HostState: hostState,
		HostLate: hostState == StateSilent, Joined: 1, PolledAt: g.PolledAt,
		Members: make([]MemberStatus, len(g.Members)),
		Nodes:   make([]NodeVariables, len(g.Statuses)),
		Events:  make([]EventStatus, len(g.Events)),
	}
	for i, m := range g.Members {
		gs.Members[i] = MemberStatus{NodeID: m.NodeID, Kana: Kana(m.NodeID), JoinedAt: m.JoinedAt, LastSeen: m.LastSeen, ExpiresAt: m.ExpiresAt, Live: m.Live,
			LastActive: m.LastActive, State: p.state(m.LastActive, now, m.Live, cmp.Or(m.HeartbeatInterval, p.member))}
		if m.Live && m.NodeID != g.HostID {
			gs.Joined++
		}
	}
	for i, st := range g.Statuses {
		vars := make([][2]string, len(st.Data))
		for j, p := range st.Data {
			vars[j] = [2]string{p.Key, p.Value}
		}
		gs.Nodes[i] = NodeVariables{NodeID: st.NodeID, Kana: Kana(st.NodeID), Reported: st.Timestamp, Variables: vars}
	}
	for i, e := range g.Events {
		gs.Events[i] = eventStatus(e)
	}
	return gs
}

// eventStatus is a fired event as the page and the lesson's record show it.
func eventStatus(e broker.Event) EventStatus {
	return EventStatus{ID: e.Cursor, Name: e.Name, From: e.FiredByNodeID, FromKana: Kana(e.FiredByNodeID), At: e.Timestamp}
}

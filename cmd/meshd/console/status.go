package console

import (
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
	Domains []DomainStatus `json:"domains"`
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
	Live         bool      `json:"live"`
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
}

// NodeVariables is the latest variables one node reported.
type NodeVariables struct {
	NodeID    string      `json:"nodeId"`
	Kana      string      `json:"kana"`
	Reported  time.Time   `json:"reported"`
	Variables [][2]string `json:"variables"`
}

// EventStatus is one fired event of the feed.
type EventStatus struct {
	// ID is unique within the group, for the feed to add each event once.
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	From     string    `json:"from"`
	FromKana string    `json:"fromKana"`
	At       time.Time `json:"at"`
}

func groupStatus(g *broker.GroupSnapshot, subs int) GroupStatus {
	gs := GroupStatus{
		ID: g.ID, FullID: g.FullID(), Name: g.Name, Kana: Kana(g.Name), HostID: g.HostID, HostKana: Kana(g.HostID),
		UseWebSocket: g.UseWebSocket, CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, HostDeadline: g.HostDeadline,
		Live: g.Live, Subscriptions: subs,
		Members: make([]MemberStatus, len(g.Members)),
		Nodes:   make([]NodeVariables, len(g.Statuses)),
		Events:  make([]EventStatus, len(g.Events)),
	}
	for i, m := range g.Members {
		gs.Members[i] = MemberStatus{NodeID: m.NodeID, Kana: Kana(m.NodeID), JoinedAt: m.JoinedAt, LastSeen: m.LastSeen, ExpiresAt: m.ExpiresAt, Live: m.Live}
	}
	for i, st := range g.Statuses {
		vars := make([][2]string, len(st.Data))
		for j, p := range st.Data {
			vars[j] = [2]string{p.Key, p.Value}
		}
		gs.Nodes[i] = NodeVariables{NodeID: st.NodeID, Kana: Kana(st.NodeID), Reported: st.Timestamp, Variables: vars}
	}
	for i, e := range g.Events {
		gs.Events[i] = EventStatus{ID: e.Cursor, Name: e.Name, From: e.FiredByNodeID, FromKana: Kana(e.FiredByNodeID), At: e.Timestamp}
	}
	return gs
}

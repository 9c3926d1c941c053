package console

import (
	"time"

	"github.com/smalruby/meshd/broker"
)

// The states of a pupil, as the console shows them.
const (
	// StateActive: did something lately (within a quarter of the heartbeat interval, at
	// least activeWithin).
	StateActive = "active"
	// StateIdle: quiet, but within the heartbeat interval meshd hands out (and its grace).
	StateIdle = "idle"
	// StateSilent: missed its heartbeat; its tab was most likely closed.
	StateSilent = "silent"
)

// activeWithin is the shortest span after an activity that counts as active: a polling
// pupil's heartbeats come every few seconds.
const activeWithin = 15 * time.Second

// heartbeatGrace is how late a heartbeat may be before the console says nobody answers: the
// editor's timer and a slow network.
const heartbeatGrace = 30 * time.Second

// presence tells the state of a pupil from the heartbeat interval meshd hands out: the
// member's own (a polling group's members are told a shorter one), else these.
type presence struct {
	member, host time.Duration
}

func newPresence(cfg broker.Config) presence {
	d := broker.DefaultConfig()
	p := presence{member: cfg.MemberHeartbeatInterval, host: cfg.HostHeartbeatInterval}
	if p.member <= 0 {
		p.member = d.MemberHeartbeatInterval
	}
	if p.host <= 0 {
		p.host = d.HostHeartbeatInterval
	}
	return p
}

// state says how a node last active at last looks at now: a node that is not live is silent.
func (p presence) state(last, now time.Time, live bool, interval time.Duration) string {
	quiet := now.Sub(last)
	switch {
	case !live || quiet > interval+heartbeatGrace:
		return StateSilent
	case quiet <= max(interval/4, activeWithin):
		return StateActive
	default:
		return StateIdle
	}
}

package broker

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const cursorPrefix = "EVENT#"

// cursor renders a polling cursor: strictly increasing with seq, both numerically and as a
// string.
func cursor(t time.Time, seq uint64) string {
	return fmt.Sprintf("%s%s#%020d", cursorPrefix, FormatTime(t), seq)
}

// since is a parsed getEventsSince argument: events after seq, or else after time.
type since struct {
	all   bool
	seq   uint64
	bySeq bool
	after time.Time
	// start marks a plain timestamp: the editor's position when it starts polling, read from
	// the pupil's clock (see startOfPolling).
	start bool
}

// parseSince interprets a since argument (spec §11.3).
func parseSince(s string) (since, error) {
	if s == "" {
		return since{all: true}, nil
	}
	if rest, ok := strings.CutPrefix(s, cursorPrefix); ok {
		ts, tail, _ := strings.Cut(rest, "#")
		if len(tail) == 20 {
			if seq, err := strconv.ParseUint(tail, 10, 64); err == nil {
				return since{seq: seq, bySeq: true}, nil
			}
		}
		if t, err := ParseTime(ts); err == nil {
			return since{after: t}, nil
		}
	} else if t, err := ParseTime(s); err == nil {
		return since{after: t, start: true}, nil
	}
	return since{}, errorf(ValidationError, "since must be empty, a timestamp or an event cursor")
}

// ParseTime reads an ISO-8601 timestamp: RFC 3339 with or without a fraction, or without a
// zone (taken as UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not ISO 8601", s)
}

// Reading the start of polling. The editor clears its position when polling starts, so its
// first poll — and every poll until one returns an event — sends the pupil's own clock at that
// first poll: up to a polling interval after the join, and off by however far the pupil's
// clock is from the server's. Taken as it is, it loses every broadcast fired between the join
// and the first poll, and everything for as long as the pupil's clock is ahead.
const (
	// editorPollingInterval is how often the editor polls when its group told it no interval
	// (a WebSocket group whose pupil was forced to poll).
	editorPollingInterval = 2 * time.Second
	// firstPollSlack covers the join's answer reaching the tab, the tab's timer running late and
	// the first poll's way to meshd.
	firstPollSlack = 2 * time.Second
)

// startOfPolling moves the start of a plain-timestamp since back to one polling interval and
// firstPollSlack before the poll arrived, by the server's clock, unless the timestamp is
// earlier still: the answer then holds everything fired since the pupil joined, whatever its
// clock says, and never less than the timestamp alone would give. A poll that returns events
// moves the editor to a cursor, so no event is returned under this rule twice; a quiet group's
// repeated polls only move the start forward.
func startOfPolling(sc since, g *group, arrived time.Time) since {
	if !sc.start {
		return sc
	}
	interval := time.Duration(g.PollingIntervalSeconds) * time.Second
	if interval == 0 {
		interval = editorPollingInterval
	}
	if earliest := arrived.Add(-interval - firstPollSlack); earliest.Before(sc.after) {
		sc.after = earliest
	}
	return sc
}

func (s since) includes(e *Event) bool {
	switch {
	case s.all:
		return true
	case s.bySeq:
		return e.seq > s.seq
	default:
		return e.Timestamp.After(s.after)
	}
}

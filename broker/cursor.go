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
		return since{after: t}, nil
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

package plan

import (
	"encoding/json"
	"strconv"
	"time"

	graphql "github.com/graph-gophers/graphql-go"

	"github.com/smalruby/meshd/broker"
)

// The leaf writers of compiled plans. Each writes exactly the bytes graphql-go writes for
// the same value (json.Marshal of the resolver's Go value); values that need escaping take
// json.Marshal itself, so the two can never differ.

// plainJSON marks the bytes that stand for themselves inside a JSON string, both for
// encoding/json (which escapes <, > and & too) and for strconv.Quote (graphql.ID).
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			return false
		}
	}
	return true
}

// appendString writes a String value.
func appendString(b []byte, s string) []byte {
	if isPlain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s) // a Go string always encodes
	return append(b, enc...)
}

// appendID writes an ID value as graphql.ID's MarshalJSON does; ok is false when
// graphql-go would fail on it.
func appendID(b []byte, s string) ([]byte, bool) {
	if isPlain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"'), true
	}
	enc, err := json.Marshal(graphql.ID(s))
	if err != nil {
		return b, false
	}
	return append(b, enc...), true
}

// idSafe reports whether appendID can write s.
func idSafe(s string) bool {
	_, ok := appendID(nil, s)
	return ok
}

// appendTime writes an AWSDateTime.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, broker.TimeLayout)
	return append(b, '"')
}

func appendInt(b []byte, n int32) []byte { return strconv.AppendInt(b, int64(n), 10) }

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s+"")
}

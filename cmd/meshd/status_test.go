package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/console"
)

// TestPrintStatusStates: each group in progress is one line whose STATE says whether its host
// still answers, and the summary ends pointing at meshd console-link.
func TestPrintStatusStates(t *testing.T) {
	now := time.Now()
	st := &console.Status{Taken: now, Domains: []console.DomainStatus{{Domain: "d", Groups: []console.GroupStatus{
		{Kana: "いしかたうん", UseWebSocket: true, ExpiresAt: now.Add(time.Hour), HostDeadline: now.Add(time.Minute)},
		{Kana: "きくなにこは", HostLate: true, ExpiresAt: now.Add(time.Hour), HostDeadline: now.Add(time.Second)},
	}}}}
	var out bytes.Buffer
	printStatus(&out, st)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, tc := range []struct{ kana, want string }{
		{"いしかたうん", "  live  "},
		{"きくなにこは", "  host late  "},
	} {
		found := false
		for _, l := range lines {
			if strings.Contains(l, tc.kana) {
				found = true
				if !strings.Contains(l, tc.want) {
					t.Errorf("the line of %s lacks %q: %q", tc.kana, tc.want, l)
				}
			}
		}
		if !found {
			t.Errorf("no line for %s:\n%s", tc.kana, &out)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "meshd console-link") {
		t.Errorf("the last line %q does not point at meshd console-link", last)
	}
}

package authlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestAuthFailuresAreRateLimitedInTheLog(t *testing.T) {
	var out bytes.Buffer
	counted := map[string]int{}
	a := New(slog.New(slog.NewTextHandler(&out, nil)), func(transport string) { counted[transport]++ })
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	for range 5 {
		a.Observe("realtime", "192.168.1.20")
		now = now.Add(time.Second)
	}
	now = now.Add(Gap)
	a.Observe("http", "192.168.1.21")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 6 refusals in %v, want 2:\n%s", len(lines), 5*time.Second+Gap, &out)
	}
	if !strings.Contains(lines[0], "transport=realtime ip=192.168.1.20 not_logged_before=0") ||
		!strings.Contains(lines[1], "transport=http ip=192.168.1.21 not_logged_before=4") {
		t.Errorf("lines:\n%s", &out)
	}
	if counted["realtime"] != 5 || counted["http"] != 1 {
		t.Errorf("every refusal counts, logged or not: %v", counted)
	}
}

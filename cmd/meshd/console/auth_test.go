package console

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSessionsAndTicketsExpire moves auth's clock past each lifetime.
func TestSessionsAndTicketsExpire(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	a := newAuth([]string{"admin-key-0123456789"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	a.now = func() time.Time { return now }
	id, _ := a.newSession()
	req := httptest.NewRequest("GET", "/statusz", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	if _, ok := a.session(req); !ok {
		t.Fatal("a new session is not live")
	}
	ticket := a.newTicket()
	now = now.Add(sessionTTL + time.Second)
	if _, ok := a.session(req); ok {
		t.Error("a session outlived sessionTTL")
	}
	if !a.useTicket(ticket) {
		t.Errorf("a ticket expired after %v, before its %v", sessionTTL, ticketTTL)
	}
	if a.useTicket(ticket) {
		t.Error("a ticket worked twice")
	}
	late := a.newTicket()
	now = now.Add(ticketTTL + time.Second)
	if a.useTicket(late) {
		t.Error("a ticket outlived ticketTTL")
	}
	for range maxSessions + 10 {
		a.newSession()
	}
	if n := len(a.sess); n > maxSessions {
		t.Errorf("%d sessions kept, at most %d", n, maxSessions)
	}
	for range maxTickets + 10 {
		a.newTicket()
	}
	if n := len(a.tickets); n > maxTickets {
		t.Errorf("%d tickets kept, at most %d", n, maxTickets)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   bool
	}{
		{"no browser headers (curl)", nil, true},
		{"same-origin fetch", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"same-site but another origin", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://meshd.lan:8080"}, false},
		{"matching Origin", map[string]string{"Origin": "http://meshd.lan:8080"}, true},
		{"other Origin", map[string]string{"Origin": "http://evil.example"}, false},
		{"null Origin", map[string]string{"Origin": "null"}, false},
	} {
		r := httptest.NewRequest("POST", "http://meshd.lan:8080/console/api/dissolve", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := sameOrigin(r); got != tc.want {
			t.Errorf("%s: sameOrigin = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package console

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/gql/access"
)

// TestSessionsAndTicketsExpire moves auth's clock past each lifetime.
func TestSessionsAndTicketsExpire(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	a := newAuth("secret", []string{"admin-key-0123456789"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
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
	for range maxRevoked + 10 {
		id, _ := a.newSession()
		req := httptest.NewRequest("GET", "/statusz", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: id})
		s, ok := a.session(req)
		if !ok {
			t.Fatal("a new session is not live")
		}
		a.endSession(s)
	}
	if n := len(a.revoked); n > maxRevoked {
		t.Errorf("%d logged-out sessions kept, at most %d", n, maxRevoked)
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

// Admin-key guessing is throttled per address (before, one address tried ~6,000 keys a
// second): after freeGuesses wrong keys an address's keys are refused unseen — counted and
// logged as throttled — for a backoff that doubles with each further wrong one, while the
// right key keeps working from every other address, and works again from the guesser's once
// its backoff ends.
func TestAdminKeyGuessingIsThrottled(t *testing.T) {
	const key = "admin-key-0123456789"
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	counts := map[string]int{}
	var logs strings.Builder
	a := newAuth("secret", []string{key}, nil, slog.New(slog.NewTextHandler(&logs, nil)), func(reason string) { counts[reason]++ })
	a.now = func() time.Time { return now }
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("GET", "/statusz", nil)
		r.RemoteAddr = addr
		return r
	}
	const guesser = "10.0.0.1:40000"
	for i := range freeGuesses + 3 {
		if a.checkKey(from(guesser), fmt.Sprint("guess-", i)) {
			t.Fatalf("guess %d accepted", i)
		}
	}
	if counts[FailureWrong] != freeGuesses+1 || counts[FailureThrottled] != 2 {
		t.Fatalf("refusals %v: want %d wrong (the free ones and the one that set the backoff), then 2 throttled", counts, freeGuesses+1)
	}
	if a.checkKey(from("10.0.0.1:40001"), key) {
		t.Fatal("the right key from the guessing address during its backoff was compared")
	}
	for _, other := range []string{"10.0.0.2:40000", "[fd00::1]:40000"} {
		if !a.checkKey(from(other), key) {
			t.Fatalf("the right key from %s was refused", other)
		}
	}
	if !strings.Contains(logs.String(), "guessed admin keys wrong too often") || !strings.Contains(logs.String(), "addr=10.0.0.1") {
		t.Fatalf("the throttle is not logged with its address:\n%s", logs.String())
	}
	// The backoff doubles with each wrong guess after the free ones.
	now = now.Add(firstBackoff)
	if a.checkKey(from(guesser), "wrong-again") {
		t.Fatal("a wrong key accepted")
	}
	if got := a.backoff(netip.MustParseAddr("10.0.0.1")); got != 2*firstBackoff {
		t.Fatalf("backoff after the second strike past the free guesses: %v, want %v", got, 2*firstBackoff)
	}
	now = now.Add(2 * firstBackoff)
	if !a.checkKey(from(guesser), key) {
		t.Fatal("the right key after the backoff was refused")
	}
	if got := a.backoff(netip.MustParseAddr("10.0.0.1")); got != 0 {
		t.Fatalf("the right key did not clear the address's strikes: backoff %v", got)
	}
}

// TestSessionsSurviveARestart: a session signed by one auth is live in another made from the
// same secret and admin keys (meshd after a restart), and in none made from other ones; a
// forged, stretched or logged-out id is refused.
func TestSessionsSurviveARestart(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := newAuth("secret", []string{"admin-key-0123456789"}, nil, discard, nil)
	id, csrf := before.newSession()
	cookie := func(v string) *http.Request {
		req := httptest.NewRequest("GET", "/console/api/session", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: v})
		return req
	}
	nonce, rest, _ := strings.Cut(id, ".")
	exp, sum, _ := strings.Cut(rest, ".")
	for _, tc := range []struct {
		name   string
		secret string
		keys   []string
		id     string
		live   bool
	}{
		{"after a restart", "secret", []string{"admin-key-0123456789"}, id, true},
		{"another secret", "other", []string{"admin-key-0123456789"}, id, false},
		{"the admin key changed", "secret", []string{"admin-key-9876543210"}, id, false},
		{"an admin key added", "secret", []string{"admin-key-0123456789", "admin-key-9876543210"}, id, false},
		{"expiry stretched", "secret", []string{"admin-key-0123456789"}, nonce + "." + exp + "0." + sum, false},
		{"another nonce", "secret", []string{"admin-key-0123456789"}, strings.Repeat("0", len(nonce)) + "." + rest, false},
		{"no MAC", "secret", []string{"admin-key-0123456789"}, nonce + "." + exp, false},
		{"oversized", "secret", []string{"admin-key-0123456789"}, id + strings.Repeat("0", maxSessionIDLen), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := newAuth(tc.secret, tc.keys, nil, discard, nil)
			s, ok := after.session(cookie(tc.id))
			if ok != tc.live {
				t.Fatalf("live = %v, want %v", ok, tc.live)
			}
			if ok && s.csrf != csrf {
				t.Errorf("the CSRF token changed across the restart: %q, was %q", s.csrf, csrf)
			}
		})
	}
	s, _ := before.session(cookie(id))
	before.endSession(s)
	if _, ok := before.session(cookie(id)); ok {
		t.Error("a logged-out session is still live")
	}
}

// TestAdminKeyGuessingBehindATrustedProxy: behind a trusted proxy, guesses count under the
// client the proxy names, so one guessing pupil does not lock out the teacher behind the same
// proxy; an untrusted peer's X-Forwarded-For is not believed.
func TestAdminKeyGuessingBehindATrustedProxy(t *testing.T) {
	const key = "admin-key-0123456789"
	a := newAuth("secret", []string{key}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	a.proxies = access.Proxies{netip.MustParsePrefix("10.0.0.0/24")}
	via := func(peer, client string) *http.Request {
		r := httptest.NewRequest("GET", "/statusz", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", client)
		return r
	}
	for i := range freeGuesses + 1 {
		a.checkKey(via("10.0.0.1:40000", "192.168.5.7"), fmt.Sprint("guess-", i))
	}
	if a.checkKey(via("10.0.0.1:40001", "192.168.5.7"), key) {
		t.Fatal("the guessing client behind the proxy is not throttled")
	}
	if !a.checkKey(via("10.0.0.1:40002", "192.168.5.8"), key) {
		t.Fatal("another client behind the same proxy was throttled with the guesser")
	}
	// An untrusted peer names whatever client it likes: its guesses count under the peer.
	for i := range freeGuesses + 1 {
		a.checkKey(via("172.16.0.9:40000", fmt.Sprint("192.168.6.", i)), fmt.Sprint("guess-", i))
	}
	if a.checkKey(via("172.16.0.9:40001", "192.168.6.200"), key) {
		t.Fatal("an untrusted peer escaped its throttle by naming new clients")
	}
}

package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smalruby/meshd/broker/loglimit"
	"github.com/smalruby/meshd/gql/access"
)

// Limits of the console's sessions and login tickets.
const (
	cookieName = "meshd_console"
	sessionTTL = 12 * time.Hour
	// sessionNonceBytes is a session id's random part; maxSessionIDLen bounds a cookie
	// before its MAC is computed.
	sessionNonceBytes = 16
	maxSessionIDLen   = 160
	// maxRevoked bounds the logged-out sessions remembered until their expiry.
	maxRevoked     = 1024
	ticketTTL      = 24 * time.Hour
	maxTickets     = 16
	failureLogGap  = 10 * time.Second
	csrfHeaderName = "X-CSRF-Token"
	// An address may guess freeGuesses admin keys wrong; after each further wrong one it may
	// not try again for a backoff that doubles from firstBackoff up to maxBackoff. Strikes are
	// remembered for at most maxStruck addresses.
	freeGuesses  = 5
	firstBackoff = time.Second
	maxBackoff   = 15 * time.Minute
	maxStruck    = 4096
)

// Reasons a credential is refused, as counted by Options.OnAuthFailure.
const (
	FailureMissing = "missing"
	FailureWrong   = "wrong"
	FailureAPIKey  = "api_key"
	FailureTicket  = "ticket"
	FailureCSRF    = "csrf"
	// FailureThrottled is a key not even compared: its address guessed wrong too often.
	FailureThrottled = "throttled"
)

// auth checks admin keys, hands out sessions and login tickets, and counts and logs what it
// refuses.
type auth struct {
	admin  access.KeySet
	api    access.KeySet
	log    *slog.Logger
	onFail func(reason string)
	now    func() time.Time
	mu     sync.Mutex
	// sessionKey signs session ids; revoked holds logged-out ones until their expiry.
	sessionKey []byte
	revoked    map[string]time.Time
	tickets    map[string]time.Time
	// logLimit rate-limits the log lines of refused credentials.
	logLimit loglimit.Limit
	// struck holds the wrong guesses of each address (an IPv6 address's /64); proxies are the
	// trusted proxies, whose clients count by the address they forward.
	struck  map[netip.Addr]*strikes
	proxies access.Proxies
}

// strikes are one address's wrong admin keys since its last right one.
type strikes struct {
	wrong int
	until time.Time // no key from the address is compared before then
}

type session struct {
	nonce   string
	csrf    string
	expires time.Time
}

// sessionKey is the key the console's session cookies are signed with: derived from meshd's
// kept secret and the admin keys, so that sessions survive a restart and end when the admin
// keys change.
func sessionKey(secret string, adminKeys []string) []byte {
	m := hmac.New(sha256.New, []byte("meshd console session"))
	m.Write([]byte(secret))
	for _, k := range slices.Sorted(slices.Values(adminKeys)) {
		m.Write([]byte{0})
		m.Write([]byte(k))
	}
	return m.Sum(nil)
}

func newAuth(secret string, adminKeys, apiKeys []string, log *slog.Logger, onFail func(string)) *auth {
	return &auth{
		admin: access.NewKeySet(adminKeys), api: access.NewKeySet(apiKeys),
		log: log, onFail: onFail, now: time.Now,
		sessionKey: sessionKey(secret, adminKeys), revoked: map[string]time.Time{}, tickets: map[string]time.Time{},
		logLimit: loglimit.Limit{Every: failureLogGap},
		struck:   map[netip.Addr]*strikes{},
	}
}

// checkKey reports whether key is an admin key; a refused key is counted and logged. An
// address that guessed wrong more than freeGuesses times has its keys refused unseen, the
// right one too, until its backoff ends; every other address is unaffected.
func (a *auth) checkKey(r *http.Request, key string) bool {
	addr := a.guesser(r)
	if wait := a.backoff(addr); wait > 0 {
		a.refuse(r, FailureThrottled)
		return false
	}
	switch {
	case key == "":
		a.refuse(r, FailureMissing)
	case a.admin.Contains(key):
		a.mu.Lock()
		delete(a.struck, addr)
		a.mu.Unlock()
		return true
	case a.api.Contains(key):
		a.strike(addr)
		a.refuse(r, FailureAPIKey)
	default:
		a.strike(addr)
		a.refuse(r, FailureWrong)
	}
	return false
}

// guesser is the address a request's guesses count under: its client (behind a trusted proxy,
// the one the proxy names), an IPv6 client's /64.
func (a *auth) guesser(r *http.Request) netip.Addr {
	return access.Holder(a.proxies.Client(r.RemoteAddr, r.Header.Get("X-Forwarded-For")))
}

// backoff is how long addr must still wait before a key of it is compared.
func (a *auth) backoff(addr netip.Addr) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.struck[addr]; s != nil {
		return s.until.Sub(a.now())
	}
	return 0
}

// strike counts a wrong guess of addr and sets its backoff.
func (a *auth) strike(addr netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	s := a.struck[addr]
	if s == nil {
		if len(a.struck) >= maxStruck {
			for k, o := range a.struck {
				if !o.until.After(now) {
					delete(a.struck, k)
				}
			}
		}
		if len(a.struck) >= maxStruck {
			return // a flood of addresses: each still gets freeGuesses only until room is made
		}
		s = &strikes{}
		a.struck[addr] = s
	}
	s.wrong++
	if over := s.wrong - freeGuesses; over > 0 {
		wait := maxBackoff
		if over < 20 {
			wait = min(firstBackoff<<(over-1), maxBackoff)
		}
		s.until = now.Add(wait)
		if over == 1 {
			a.log.Warn("console: an address guessed admin keys wrong too often; its keys are refused unseen for a backoff that doubles with each further wrong one", "addr", addr, "wrong", s.wrong, "backoff", wait)
		}
	}
}

// refuse counts a refused credential and logs it, at most once per failureLogGap.
func (a *auth) refuse(r *http.Request, reason string) {
	if a.onFail != nil {
		a.onFail(reason)
	}
	ok, suppressed := a.logLimit.Allow(a.now())
	if !ok {
		return
	}
	msg := "console refused a credential"
	if reason == FailureAPIKey {
		msg = "console refused the pupils' API key: the console needs an admin key (MESH_ADMIN_KEYS)"
	}
	a.log.Warn(msg, "reason", reason, "remote", r.RemoteAddr, "path", r.URL.Path, "suppressed_before", suppressed)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on a broken system source)
	return hex.EncodeToString(b)
}

// newSession starts a session and returns its id and CSRF token. The id carries its own
// expiry and a MAC under the session key, so that a session outlives a restart of meshd that
// keeps its secret and admin keys.
func (a *auth) newSession() (id, csrf string) {
	nonce := randomToken()[:2*sessionNonceBytes]
	exp := strconv.FormatInt(a.now().Add(sessionTTL).Unix(), 10)
	return nonce + "." + exp + "." + a.mac("session", nonce, exp), a.mac("csrf", nonce)
}

// mac is the hex HMAC of parts under the session key.
func (a *auth) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.sessionKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// session returns the request's live session: a cookie whose MAC holds, not expired and not
// logged out.
func (a *auth) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) > maxSessionIDLen {
		return session{}, false
	}
	nonce, rest, ok1 := strings.Cut(c.Value, ".")
	exp, sum, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !hmac.Equal([]byte(sum), []byte(a.mac("session", nonce, exp))) {
		return session{}, false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	expires := time.Unix(unix, 0)
	if err != nil || a.now().After(expires) {
		return session{}, false
	}
	a.mu.Lock()
	_, out := a.revoked[nonce]
	a.mu.Unlock()
	if out {
		return session{}, false
	}
	return session{nonce: nonce, csrf: a.mac("csrf", nonce), expires: expires}, true
}

// endSession logs the request's session out until it would have expired. What this process
// forgets at a restart is only as good as the browser's deleting the cookie on logout.
func (a *auth) endSession(s session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if len(a.revoked) >= maxRevoked {
		for k, exp := range a.revoked {
			if now.After(exp) {
				delete(a.revoked, k)
			}
		}
	}
	for k := range a.revoked {
		if len(a.revoked) < maxRevoked {
			break
		}
		delete(a.revoked, k) // the map's order is as good as any for dropping one
	}
	a.revoked[s.nonce] = s.expires
}

// newTicket returns a one-time login ticket, valid for ticketTTL or until used.
func (a *auth) newTicket() string {
	t := randomToken()
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, exp := range a.tickets {
		if now.After(exp) || len(a.tickets) >= maxTickets {
			delete(a.tickets, k)
		}
	}
	a.tickets[t] = now.Add(ticketTTL)
	return t
}

// useTicket consumes a login ticket.
func (a *auth) useTicket(t string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.tickets[t]
	delete(a.tickets, t)
	return ok && !a.now().After(exp)
}

// setCookie sends the session cookie: HttpOnly, SameSite=Strict, Secure over TLS.
func setCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    id,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// sameOrigin reports whether a state-changing request comes from a page of this origin: the
// browser's Sec-Fetch-Site or Origin says so. Requests without either (curl) pass, since
// they carry no ambient browser credentials an attacker could borrow.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// bearer returns the key of an "Authorization: Bearer KEY" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

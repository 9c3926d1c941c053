package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/gql"
)

const (
	adminKey = "admin-key-for-the-console-test"
	pupilKey = "da2-pupils-public-key"
)

type env struct {
	srv      *httptest.Server
	b        *broker.Broker
	clock    *brokertest.Clock
	cons     *console.Console
	mu       sync.Mutex
	failures []string
	logs     *bytes.Buffer
}

func (e *env) reasons() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.failures...)
}

// start runs a broker, the API and the console behind one real listener (TLS when asked).
func start(t testing.TB, useTLS bool) *env {
	t.Helper()
	clock := brokertest.NewClock()
	clock.Advance(time.Since(clock.Now()))
	ended := new(console.Ended)
	tb := brokertest.New(t, brokertest.Options{Clock: clock, OnGroupEnd: ended.Add})
	e := &env{b: tb.Broker, clock: clock, logs: &bytes.Buffer{}}
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return e.logs.Write(p)
	}), nil))
	api, err := gql.New(tb.Broker, gql.Config{APIKeys: []string{pupilKey}, MaxRequestBytes: 1 << 20, RequestTimeout: 10 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := console.New(console.Options{
		Service:       tb.Broker,
		Snapshot:      tb.Broker.Snapshot,
		Config:        tb.Broker.Config(),
		Ended:         ended,
		Subscriptions: api.GroupSubscriptions,
		Health:        func() console.Health { return console.Health{Version: "test", Started: time.Now()} },
		AdminKeys:     []string{adminKey},
		APIKeys:       []string{pupilKey},
		OnAuthFailure: func(reason string) {
			e.mu.Lock()
			e.failures = append(e.failures, reason)
			e.mu.Unlock()
		},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.cons = cons
	mux := http.NewServeMux()
	mux.Handle("/console/", cons.Handler())
	mux.Handle("/statusz", cons.Handler())
	mux.Handle("/", api.Handler())
	if useTLS {
		e.srv = httptest.NewTLSServer(mux)
	} else {
		e.srv = httptest.NewServer(mux)
	}
	t.Cleanup(func() {
		cons.Close()
		e.srv.Close()
	})
	return e
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// client is a browser-like client: a cookie jar, no redirects followed.
func (e *env) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *e.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func do(t *testing.T, c *http.Client, method, url string, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// login starts a session with the admin key and returns its CSRF token.
func (e *env) login(t *testing.T, c *http.Client) string {
	t.Helper()
	res, body := do(t, c, "POST", e.srv.URL+"/console/login", `{"key":"`+adminKey+`"}`, map[string]string{"Content-Type": "application/json", "Origin": e.srv.URL})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login: %s %s", res.Status, body)
	}
	var out struct{ CSRF string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.CSRF == "" {
		t.Fatalf("login body %q: %v", body, err)
	}
	return out.CSRF
}

func TestStatuszNeedsAnAdminKey(t *testing.T) {
	e := start(t, false)
	for _, tc := range []struct {
		name, auth string
		status     int
		reason     string
	}{
		{"no key", "", http.StatusUnauthorized, console.FailureMissing},
		{"wrong key", "Bearer not-the-admin-key", http.StatusUnauthorized, console.FailureWrong},
		{"the pupils' API key", "Bearer " + pupilKey, http.StatusUnauthorized, console.FailureAPIKey},
		{"the API key as x-api-key", "", http.StatusUnauthorized, console.FailureMissing},
		{"admin key", "Bearer " + adminKey, http.StatusOK, ""},
		{"admin key, lower-case scheme", "bearer " + adminKey, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.reasons())
			h := map[string]string{"x-api-key": pupilKey}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			res, body := do(t, e.srv.Client(), "GET", e.srv.URL+"/statusz", "", h)
			if res.StatusCode != tc.status {
				t.Fatalf("%s: %s", res.Status, body)
			}
			got := e.reasons()[before:]
			if tc.reason == "" && len(got) != 0 || tc.reason != "" && (len(got) != 1 || got[0] != tc.reason) {
				t.Errorf("refusals counted %v, want [%s]", got, tc.reason)
			}
			if tc.status == http.StatusOK && !json.Valid([]byte(body)) {
				t.Errorf("body is not JSON: %q", body)
			}
		})
	}
}

func TestRefusalsAreLoggedRateLimited(t *testing.T) {
	e := start(t, false)
	for range 5 {
		do(t, e.srv.Client(), "GET", e.srv.URL+"/statusz", "", map[string]string{"Authorization": "Bearer wrong"})
	}
	if n := len(e.reasons()); n != 5 {
		t.Errorf("%d refusals counted, want 5", n)
	}
	if n := strings.Count(e.logs.String(), "console refused"); n != 1 {
		t.Errorf("%d log lines for 5 refusals within a second, want 1:\n%s", n, e.logs)
	}
	if strings.Contains(e.logs.String(), "wrong") && strings.Contains(e.logs.String(), adminKey) {
		t.Error("the log shows the admin key")
	}
}

func TestLoginCookie(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		e := start(t, useTLS)
		c := e.client(t)
		same := map[string]string{"Content-Type": "application/json", "Origin": e.srv.URL}
		for _, tc := range []struct {
			name, body string
			header     map[string]string
			status     int
		}{
			{"wrong key", `{"key":"nope"}`, same, http.StatusUnauthorized},
			{"pupils' key", `{"key":"` + pupilKey + `"}`, same, http.StatusUnauthorized},
			{"empty key", `{"key":""}`, same, http.StatusUnauthorized},
			{"from another site", `{"key":"` + adminKey + `"}`, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, http.StatusForbidden},
			{"cross-site fetch", `{"key":"` + adminKey + `"}`, map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
			{"not JSON", `{`, same, http.StatusBadRequest},
		} {
			res, body := do(t, c, "POST", e.srv.URL+"/console/login", tc.body, tc.header)
			if res.StatusCode != tc.status || len(res.Cookies()) != 0 {
				t.Errorf("tls=%v %s: %s %s, cookies %v; want %d and no cookie", useTLS, tc.name, res.Status, body, res.Cookies(), tc.status)
			}
		}
		res, body := do(t, c, "POST", e.srv.URL+"/console/login", "key="+adminKey, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL})
		if res.StatusCode != http.StatusOK || len(res.Cookies()) != 1 {
			t.Fatalf("tls=%v form login: %s %s %v", useTLS, res.Status, body, res.Cookies())
		}
		ck := res.Cookies()[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != useTLS || len(ck.Value) < 32 {
			t.Errorf("tls=%v cookie %+v: want HttpOnly, SameSite=Strict, Path=/, Secure only over TLS, a long random value", useTLS, ck)
		}
		if res, _ := do(t, c, "GET", e.srv.URL+"/statusz", "", nil); res.StatusCode != http.StatusOK {
			t.Errorf("tls=%v /statusz with the session: %s", useTLS, res.Status)
		}
		if res, _ := do(t, c, "GET", e.srv.URL+"/console/api/session", "", nil); res.StatusCode != http.StatusOK {
			t.Errorf("tls=%v session: %s", useTLS, res.Status)
		}
	}
}

func TestLoginTicketIsOneTime(t *testing.T) {
	e := start(t, false)
	path := e.cons.LoginPath()
	c := e.client(t)
	res, _ := do(t, c, "GET", e.srv.URL+path, "", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/" || len(res.Cookies()) != 1 {
		t.Fatalf("first use: %s to %q, cookies %v", res.Status, res.Header.Get("Location"), res.Cookies())
	}
	if res, _ := do(t, c, "GET", e.srv.URL+"/console/api/session", "", nil); res.StatusCode != http.StatusOK {
		t.Errorf("session after the ticket: %s", res.Status)
	}
	other := e.client(t)
	res, _ = do(t, other, "GET", e.srv.URL+path, "", nil)
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "login=expired") || len(res.Cookies()) != 0 {
		t.Errorf("second use: %s to %q, cookies %v; want the login page and no session", res.Status, res.Header.Get("Location"), res.Cookies())
	}
	if r := e.reasons(); len(r) != 1 || r[0] != console.FailureTicket {
		t.Errorf("refusals %v, want [ticket]", r)
	}
}

func TestDissolveNeedsCSRFToken(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	domain := "d1"
	g, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "a1b2c3d4", HostID: "a1b2c3d4", Domain: domain, UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *broker.Message, 4)
	cancel, err := e.b.Subscribe(domain, g.ID, func(m *broker.Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	c := e.client(t)
	csrf := e.login(t, c)
	body := `{"domain":"` + domain + `","groupId":"` + g.ID + `"}`
	url := e.srv.URL + "/console/api/dissolve"
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no token", map[string]string{"Origin": e.srv.URL}, http.StatusForbidden},
		{"wrong token", map[string]string{"Origin": e.srv.URL, "X-CSRF-Token": "x" + csrf[1:]}, http.StatusForbidden},
		{"right token from another site", map[string]string{"Origin": "http://evil.example", "X-CSRF-Token": csrf}, http.StatusForbidden},
		{"right token, cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}, http.StatusForbidden},
	} {
		if res, b := do(t, c, "POST", url, body, tc.header); res.StatusCode != tc.status {
			t.Errorf("%s: %s %s, want %d", tc.name, res.Status, b, tc.status)
		}
	}
	if res, b := do(t, e.client(t), "POST", url, body, map[string]string{"X-CSRF-Token": csrf}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token without the session: %s %s", res.Status, b)
	}
	if live, _ := e.b.GetGroup(g.ID, domain); live == nil {
		t.Fatal("a refused dissolve dissolved the group")
	}
	if n := len(e.reasons()); n != 4 {
		t.Errorf("%d refusals counted, want 4 (csrf)", n)
	}

	res, b := do(t, c, "POST", url, body, map[string]string{"Origin": e.srv.URL, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("dissolve: %s %s", res.Status, b)
	}
	want := "Group " + g.ID + "@" + domain + " has been dissolved successfully."
	select {
	case m := <-got:
		if m.Dissolve == nil || m.Dissolve.Message != want {
			t.Errorf("subscribers got %+v, want the host's dissolve message %q", m, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no dissolve message reached the group's subscribers")
	}
	if live, _ := e.b.GetGroup(g.ID, domain); live != nil {
		t.Error("the group is still there")
	}
	if res, b := do(t, c, "POST", url, body, map[string]string{"Origin": e.srv.URL, "X-CSRF-Token": csrf}); res.StatusCode != http.StatusNotFound {
		t.Errorf("dissolving it again: %s %s, want 404", res.Status, b)
	}
	if !strings.Contains(e.logs.String(), "console dissolved a group") {
		t.Error("the dissolve is not in the log")
	}
	// The ended group stays listed, with why it ended.
	_, sb := do(t, c, "GET", e.srv.URL+"/statusz", "", nil)
	var st console.Status
	if err := json.Unmarshal([]byte(sb), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Ended) != 1 || st.Ended[0].ID != g.ID || st.Ended[0].Reason != "dissolved" || st.Ended[0].At.IsZero() {
		t.Errorf("ended groups %+v, want the dissolved one", st.Ended)
	}
}

func TestStatuszShowsTheClassroom(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	g, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "0123456789abcdef", HostID: "0123456789abcdef", Domain: "dom", UseWebSocket: false})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.b.JoinGroup(ctx, g.ID, "dom", "fedcba9876543210"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.ReportData(g.ID, "dom", "fedcba9876543210", []broker.Pair{{Key: "x", Value: "3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.FireEvents(g.ID, "dom", "fedcba9876543210", []broker.EventInput{{Name: "go!", FiredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	res, body := do(t, e.srv.Client(), "GET", e.srv.URL+"/statusz", "", map[string]string{"Authorization": "Bearer " + adminKey})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json; charset=utf-8" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s %v", res.Status, res.Header)
	}
	var st console.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Domains) != 1 || st.Domains[0].Domain != "dom" || len(st.Domains[0].Groups) != 1 {
		t.Fatalf("domains %+v", st.Domains)
	}
	gs := st.Domains[0].Groups[0]
	if gs.Kana != "いしかたうん" || gs.HostKana != "いしかたうん" || gs.UseWebSocket || gs.ID != g.ID {
		t.Errorf("group %+v", gs)
	}
	if len(gs.Members) != 1 || gs.Members[0].Kana != "きくなにこは" || !gs.Members[0].Live {
		t.Errorf("members %+v", gs.Members)
	}
	if m := gs.Members[0]; m.State != console.StateActive || m.LastActive.Before(m.LastSeen) || gs.Joined != 2 || gs.HostLate || gs.HostState != console.StateActive {
		t.Errorf("member %s (last active %v, seen %v), %d joined, host %s late %v; want an active member, the host and it joined", m.State, m.LastActive, m.LastSeen, gs.Joined, gs.HostState, gs.HostLate)
	}
	if st.Server.Light != "ok" || len(st.Ended) != 0 {
		t.Errorf("light %s %v, ended %v", st.Server.Light, st.Server.Problems, st.Ended)
	}
	if len(gs.Nodes) != 1 || gs.Nodes[0].Variables[0] != [2]string{"x", "3"} {
		t.Errorf("nodes %+v", gs.Nodes)
	}
	if len(gs.Events) != 1 || gs.Events[0].Name != "go!" || gs.Events[0].From != "fedcba9876543210" || gs.Events[0].ID == "" {
		t.Errorf("events %+v", gs.Events)
	}
	if st.Server.Version != "test" || st.Server.Groups != 1 || st.Server.Members != 1 {
		t.Errorf("server %+v", st.Server)
	}
}

func TestStreamPushesChanges(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	g, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "abc", HostID: "abc", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	e.login(t, c)
	if res, _ := do(t, e.client(t), "GET", e.srv.URL+"/console/api/stream", "", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("stream without a session: %s", res.Status)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", e.srv.URL+"/console/api/stream", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := bufio.NewScanner(res.Body)
	events.Buffer(make([]byte, 64<<10), 8<<20)
	next := func() console.Status {
		t.Helper()
		for events.Scan() {
			if data, ok := strings.CutPrefix(events.Text(), "data: "); ok {
				var st console.Status
				if err := json.Unmarshal([]byte(data), &st); err != nil {
					t.Fatalf("event %q: %v", data, err)
				}
				return st
			}
		}
		t.Fatalf("stream ended: %v", events.Err())
		return console.Status{}
	}
	if st := next(); len(st.Domains) != 1 {
		t.Fatalf("first event %+v", st)
	}
	if _, err := e.b.ReportData(g.ID, "d", "abc", []broker.Pair{{Key: "k", Value: "v2"}}); err != nil {
		t.Fatal(err)
	}
	for {
		st := next()
		if nodes := st.Domains[0].Groups[0].Nodes; len(nodes) == 1 && nodes[0].Variables[0][1] == "v2" {
			break
		}
	}
}

func TestPageAndAssets(t *testing.T) {
	e := start(t, false)
	for _, tc := range []struct{ accept, lang string }{
		{"ja,en-US;q=0.9,en;q=0.8", "ja"},
		{"en-US,en;q=0.9,ja;q=0.8", "en"},
		{"en;q=0.5, ja-JP;q=0.9", "ja"},
		{"", "en"},
		{"fr-FR", "en"},
	} {
		res, body := do(t, e.srv.Client(), "GET", e.srv.URL+"/console/", "", map[string]string{"Accept-Language": tc.accept})
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `<html lang="`+tc.lang+`">`) {
			t.Errorf("Accept-Language %q: %s, want lang %s", tc.accept, res.Status, tc.lang)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
	}
	for path, ctype := range map[string]string{"/console/app.js": "text/javascript", "/console/app.css": "text/css"} {
		res, body := do(t, e.srv.Client(), "GET", e.srv.URL+path, "", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) || len(body) < 1000 {
			t.Errorf("%s: %s %s, %d bytes", path, res.Status, res.Header.Get("Content-Type"), len(body))
		}
		if strings.Contains(body, "http://") && path == "/console/app.js" && strings.Contains(body, "cdn") {
			t.Errorf("%s refers to a CDN", path)
		}
	}
}

func TestAdminKeyMustNotBeAnAPIKey(t *testing.T) {
	tb := brokertest.New(t, brokertest.Options{})
	if _, err := console.New(console.Options{Service: tb.Broker, Snapshot: tb.Broker.Snapshot, AdminKeys: []string{pupilKey}, APIKeys: []string{pupilKey}}); err == nil {
		t.Error("an admin key equal to an API key was accepted")
	}
	if _, err := console.New(console.Options{Service: tb.Broker, Snapshot: tb.Broker.Snapshot}); err == nil {
		t.Error("a console without admin keys was accepted")
	}
}

// FuzzBodies sends arbitrary bodies to the two handlers that read one: neither answers 5xx or
// dissolves anything it was not asked to.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{`{"key":"x"}`, `{"domain":"d","groupId":"g"}`, `{`, ``, `key=` + adminKey, `{"domain":"","groupId":"\u0000"}`} {
		f.Add(s)
	}
	e := start(f, false)
	g, err := e.b.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "keep", HostID: "keep", Domain: "d", UseWebSocket: true})
	if err != nil {
		f.Fatal(err)
	}
	h := e.cons.Handler()
	login := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/console/login", strings.NewReader(`{"key":"`+adminKey+`"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(login, req)
	var sess struct{ CSRF string }
	if err := json.Unmarshal(login.Body.Bytes(), &sess); err != nil {
		f.Fatal(err)
	}
	cookie := login.Result().Cookies()[0]
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/console/login", "/console/api/dissolve"} {
			for _, ctype := range []string{"application/json", "application/x-www-form-urlencoded"} {
				req := httptest.NewRequest("POST", path, strings.NewReader(body))
				req.Header.Set("Content-Type", ctype)
				req.Header.Set("X-CSRF-Token", sess.CSRF)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
				}
			}
		}
		if !strings.Contains(body, g.ID) {
			if live, _ := e.b.GetGroup(g.ID, "d"); live == nil {
				t.Fatalf("body %q dissolved another group", body)
			}
		}
	})
}

func TestLogout(t *testing.T) {
	e := start(t, false)
	c := e.client(t)
	csrf := e.login(t, c)
	u, _ := url.Parse(e.srv.URL)
	old := c.Jar.Cookies(u)[0].String()
	if res, _ := do(t, e.srv.Client(), "GET", e.srv.URL+"/console/api/session", "", map[string]string{"Cookie": old}); res.StatusCode != http.StatusOK {
		t.Fatalf("the session cookie by hand: %s", res.Status)
	}
	if res, body := do(t, c, "POST", e.srv.URL+"/console/logout", "", map[string]string{"Origin": e.srv.URL}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %s %s", res.Status, body)
	}
	res, _ := do(t, c, "POST", e.srv.URL+"/console/logout", "", map[string]string{"Origin": e.srv.URL, "X-CSRF-Token": csrf})
	if res.StatusCode != http.StatusNoContent || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %s, cookies %v", res.Status, res.Cookies())
	}
	// The server forgot the session: its old cookie no longer works either.
	if res, _ := do(t, e.srv.Client(), "GET", e.srv.URL+"/console/api/session", "", map[string]string{"Cookie": old}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old session cookie after logout: %s", res.Status)
	}
}

// TestSessionOutlivesTheConsole: a teacher's session cookie from one console still opens the
// next one made with the same admin key, as after a restart of meshd, and its CSRF token holds.
func TestSessionOutlivesTheConsole(t *testing.T) {
	first := start(t, false)
	c := first.client(t)
	csrf := first.login(t, c)
	u, _ := url.Parse(first.srv.URL)
	cookie := c.Jar.Cookies(u)[0].String()
	first.cons.Close()
	first.srv.Close()

	next := start(t, false)
	res, body := do(t, next.srv.Client(), "GET", next.srv.URL+"/console/api/session", "", map[string]string{"Cookie": cookie})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the session after a restart: %s %s", res.Status, body)
	}
	var s struct{ CSRF string }
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.CSRF != csrf {
		t.Errorf("the CSRF token after a restart: %q (%v), want %q", s.CSRF, err, csrf)
	}
}

// TestLoginLinkNeedsTheAdminKey: the endpoint meshd console-link asks hands a link only to the
// admin key — not to a session, the pupils' key or a wrong one — and none before the console
// knows its addresses.
func TestLoginLinkNeedsTheAdminKey(t *testing.T) {
	e := start(t, false)
	session := e.client(t)
	e.login(t, session)
	for _, tc := range []struct {
		name   string
		c      *http.Client
		auth   string
		status int
		reason string
	}{
		{"no key", e.client(t), "", http.StatusUnauthorized, console.FailureMissing},
		{"a session only", session, "", http.StatusUnauthorized, console.FailureMissing},
		{"the pupils' key", e.client(t), "Bearer " + pupilKey, http.StatusUnauthorized, console.FailureAPIKey},
		{"a wrong key", e.client(t), "Bearer not-the-admin-key", http.StatusUnauthorized, console.FailureWrong},
		{"the admin key, addresses unknown", e.client(t), "Bearer " + adminKey, http.StatusServiceUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.reasons())
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			res, body := do(t, tc.c, "POST", e.srv.URL+console.LinkPath, "", h)
			if res.StatusCode != tc.status || strings.Contains(body, "ticket=") {
				t.Fatalf("%s %s, want %d and no link", res.Status, body, tc.status)
			}
			if got := e.reasons()[before:]; tc.reason == "" && len(got) != 0 || tc.reason != "" && (len(got) != 1 || got[0] != tc.reason) {
				t.Errorf("refusals counted %v, want [%s]", got, tc.reason)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/running"
)

var loginLink = regexp.MustCompile(`msg="console listening" login="(http://[^"]+/console/login\?ticket=[0-9a-f]+)" admin_key_file=(\S+)`)

// logLine waits (bounded) for a log line of p matching re and returns its submatches.
func logLine(t *testing.T, p *process, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.Logs()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s:\n%s", re, p.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConsoleAdminKeyIsGeneratedAndKept(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-data-dir", dir)
	m := logLine(t, p, loginLink)
	link, keyFile := m[1], m[2]
	if keyFile != filepath.Join(dir, console.AdminKeyFile) {
		t.Errorf("key file %s, want it in the data directory", keyFile)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin key file: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(raw))
	if len(key) < console.MinAdminKeyLen || strings.Contains(p.Logs(), key) {
		t.Fatalf("key %q: too short, or written to the log", key)
	}

	// The link logs in once.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	base := strings.TrimSuffix(p.URL, "/graphql")
	if code, body := get(t, browser, base+"/statusz"); code != http.StatusOK || !strings.Contains(body, `"domains"`) {
		t.Errorf("/statusz after the login link: %d %s", code, body)
	}
	fresh, _ := cookiejar.New(nil)
	other := &http.Client{Jar: fresh}
	res, err = other.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if code, _ := get(t, other, base+"/statusz"); code != http.StatusUnauthorized {
		t.Errorf("the login link worked twice: %d", code)
	}

	// Wrong keys are counted.
	req, _ := http.NewRequest("GET", base+"/statusz", nil)
	req.Header.Set("Authorization", "Bearer wrong-key")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %v %v", res, err)
	}
	_, metrics := get(t, http.DefaultClient, base+"/metrics")
	if metricValue(t, metrics, `meshd_console_auth_failures_total{reason="wrong"}`) != 1 || metricValue(t, metrics, `meshd_console_auth_failures_total{reason="ticket"}`) != 1 {
		t.Errorf("refusals not counted:\n%s", metrics)
	}

	// meshd status reads the same key from the data directory.
	g := p.post(t, `mutation { createGroup(name: "0123456789", hostId: "h", domain: "d") { id } }`, nil)
	_ = g
	var out, errOut bytes.Buffer
	cmd := exec.Command(meshdBinary(t), "status", "-url", base, "-data-dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("meshd status: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"sockets 0", "1 group, 0 members", "【いしかたうん】", "store bbolt"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("meshd status lacks %q:\n%s", want, out.String())
		}
	}
	if lines := strings.Count(out.String(), "\n"); lines > 24 {
		t.Errorf("meshd status printed %d lines, more than a screen", lines)
	}
	bad := exec.Command(meshdBinary(t), "status", "-url", base, "-key", "wrong-key")
	if msg, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(msg), "401") {
		t.Errorf("meshd status with a wrong key: %v %s", err, msg)
	}

	// A restart keeps the key.
	p.Signal(os.Interrupt)
	p.wait(t)
	p2 := startMeshd(t, "-data-dir", dir)
	if m := logLine(t, p2, loginLink); m[2] != keyFile {
		t.Fatalf("second start:\n%s", p2.Logs())
	}
	raw2, _ := os.ReadFile(keyFile)
	if string(raw2) != string(raw) {
		t.Error("the admin key changed across a restart")
	}
}

// TestConsoleMemoryStoreKeepsNoKey: with -store memory and no admin keys configured, meshd
// writes nothing into the data directory; the logged one-time link still opens the console.
func TestConsoleMemoryStoreKeepsNoKey(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-store", "memory", "-data-dir", dir)
	m := logLine(t, p, regexp.MustCompile(`msg="console listening" login="(http://[^"]+/console/login\?ticket=[0-9a-f]+)" admin_key="in memory only`))
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if code, body := get(t, browser, strings.TrimSuffix(p.URL, "/graphql")+"/statusz"); code != http.StatusOK {
		t.Errorf("/statusz after the login link: %d %s", code, body)
	}
	p.Signal(os.Interrupt)
	p.wait(t)
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("-store memory wrote into the data directory: %v %v", entries, err)
	}
}

func TestConsoleOnItsOwnListener(t *testing.T) {
	p := startMeshd(t, "-store", "memory", "-data-dir", t.TempDir(), "-console-addr", "127.0.0.1:0", "-admin-keys", "a-long-enough-admin-key")
	m := logLine(t, p, regexp.MustCompile(`msg="console listening" url=(http://127\.0\.0\.1:\d+)/console/ admin_keys=MESH_ADMIN_KEYS`))
	main := strings.TrimSuffix(p.URL, "/graphql")
	if m[1] == main {
		t.Fatal("the console shares the main listener")
	}
	if code, _ := get(t, http.DefaultClient, main+"/console/"); code != http.StatusNotFound {
		t.Errorf("console on the main listener: %d, want 404", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", m[1]+"/statusz", nil)
	req.Header.Set("Authorization", "Bearer a-long-enough-admin-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/statusz on the console listener: %v %v", res, err)
	}
	res.Body.Close()
	if code, _ := get(t, http.DefaultClient, m[1]+"/graphql"); code != http.StatusNotFound {
		t.Errorf("the API on the console listener: %d, want 404", code)
	}
}

func TestAdminKeySettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		err  string
	}{
		{"an admin key that is an API key", []string{"-admin-keys", "shared-key-0123456789", "-api-keys", "shared-key-0123456789"}, nil, "must not be an API key"},
		{"the same through the environment", nil, map[string]string{"MESH_ADMIN_KEYS": "k1-0123456789abcdef,shared-key-0123456789", "MESH_API_KEYS": "shared-key-0123456789"}, "must not be an API key"},
		{"a short admin key", []string{"-admin-keys", "short"}, nil, "at least 16 characters"},
		{"fine", []string{"-admin-keys", "a-long-enough-admin-key", "-api-keys", "da2-key", "-console-addr", "127.0.0.1:8081"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, env(tc.env), &bytes.Buffer{})
			if tc.err == "" {
				if err != nil || c.consoleAddr != "127.0.0.1:8081" || len(c.adminKeys) != 1 {
					t.Fatalf("%v %+v", err, c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	dir := t.TempDir()
	k1, _, err := console.LoadAdminKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := console.LoadAdminKey(dir)
	if err != nil || k1 != k2 || len(k1) < console.MinAdminKeyLen {
		t.Fatalf("keys %q then %q (%v)", k1, k2, err)
	}
}

// Login links name the public URL (and the LAN addresses when meshd listens on all of them),
// not only 127.0.0.1; each logs in once.
func TestConsoleLoginLinksForOtherMachines(t *testing.T) {
	p := startMeshd(t, "-data-dir", t.TempDir(), "-public-url", "http://meshd.school.lan:8080")
	m := logLine(t, p, regexp.MustCompile(`msg="console login link" login="http://meshd\.school\.lan:8080(/console/login\?ticket=[0-9a-f]+)"`))
	base := strings.TrimSuffix(p.URL, "/graphql")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(base + m[1])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if code, _ := get(t, browser, base+"/statusz"); code != http.StatusOK {
		t.Errorf("/statusz after the public URL's login link: %d", code)
	}
	if got := lanBases("http", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}); got != nil {
		t.Errorf("links for a loopback listener: %v", got)
	}
	for _, b := range lanBases("http", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}) {
		if !strings.HasSuffix(b, ":8080") || strings.Contains(b, "//127.") {
			t.Errorf("LAN link base %s", b)
		}
	}
}

// TestConsoleLinkCommand: meshd console-link asks the running meshd for a fresh login link at
// each of its addresses (here this machine and the public URL), which logs a browser-less client
// in once and only once; a wrong key gets nothing, and a stopped meshd is a clear error.
func TestConsoleLinkCommand(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-data-dir", dir, "-public-url", "http://meshd.school.lan:8080/")
	logLine(t, p, loginLink)
	base := strings.TrimSuffix(p.URL, "/graphql")
	consoleLink := func(env ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(meshdBinary(t), "console-link", "-data-dir", dir)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, errOut, err := consoleLink()
	if err != nil {
		t.Fatalf("meshd console-link: %v\n%s", err, errOut)
	}
	links := strings.Fields(out)
	ticket := regexp.MustCompile(`/console/login\?ticket=[0-9a-f]{64}$`)
	if len(links) != 2 || !strings.HasPrefix(links[0], base+"/console/login?ticket=") || !strings.HasPrefix(links[1], "http://meshd.school.lan:8080/console/login?ticket=") {
		t.Fatalf("links %q, want this machine's and the public URL's", links)
	}
	path := ticket.FindString(links[0])
	if path == "" || ticket.FindString(links[1]) != path || strings.Contains(p.Logs(), path) {
		t.Fatalf("links %q: want one new ticket for both, not the logged one", links)
	}

	// The link logs in once; the same ticket at another address, or again, does not.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(links[0])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if code, body := get(t, browser, base+"/statusz"); code != http.StatusOK || !strings.Contains(body, `"domains"`) {
		t.Fatalf("/statusz after the printed link: %d %s", code, body)
	}
	for _, again := range []string{links[0], base + path} {
		fresh, _ := cookiejar.New(nil)
		other := &http.Client{Jar: fresh}
		res, err := other.Get(again)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if code, _ := get(t, other, base+"/statusz"); code != http.StatusUnauthorized {
			t.Errorf("the printed link logged in twice (%s): %d", again, code)
		}
	}
	if out2, _, err := consoleLink(); err != nil || ticket.FindString(strings.Fields(out2)[0]) == path {
		t.Errorf("a second console-link: %q %v, want a new ticket", out2, err)
	}

	// A wrong key gets nothing: not from the command, not over HTTP, not with a session alone.
	if out, errOut, err := consoleLink("MESH_ADMIN_KEYS=not-the-admin-key-at-all"); err == nil || out != "" || !strings.Contains(errOut, "401") {
		t.Errorf("console-link with a wrong key: %v, printed %q, said %q", err, out, errOut)
	}
	post := func(c *http.Client, key string) (int, string) {
		req, _ := http.NewRequest("POST", base+console.LinkPath, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for name, c := range map[string]*http.Client{"no key": http.DefaultClient, "a session": browser} {
		if code, body := post(c, ""); code != http.StatusUnauthorized || strings.Contains(body, "ticket=") {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	// Guessing is throttled as at login: after the free guesses, keys are refused unseen.
	throttled := regexp.MustCompile(`(?m)^meshd_console_auth_failures_total\{reason="throttled"\} [1-9]`)
	for range 30 {
		if code, body := post(http.DefaultClient, "wrong-key-0123456789"); code != http.StatusUnauthorized || strings.Contains(body, "ticket=") {
			t.Fatalf("a wrong key: %d %s", code, body)
		}
		if _, metrics := get(t, http.DefaultClient, base+"/metrics"); throttled.MatchString(metrics) {
			break
		}
	}
	if _, metrics := get(t, http.DefaultClient, base+"/metrics"); !throttled.MatchString(metrics) {
		t.Error("30 wrong keys in a row were never throttled")
	}

	// A stopped meshd: no record, then a stale record nobody answers at.
	raw, err := os.ReadFile(filepath.Join(dir, running.File))
	if err != nil {
		t.Fatal(err)
	}
	p.Signal(os.Interrupt)
	p.wait(t)
	if out, errOut, err := consoleLink(); err == nil || out != "" || !strings.Contains(errOut, "no running meshd") {
		t.Errorf("console-link without a meshd: %v, printed %q, said %q", err, out, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, running.File), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := consoleLink(); err == nil || out != "" || !strings.Contains(errOut, "does not answer (has it stopped?)") {
		t.Errorf("console-link to a meshd killed without cleaning up: %v, printed %q, said %q", err, out, errOut)
	}
}

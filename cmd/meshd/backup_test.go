package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/running"
	"github.com/smalruby/meshd/store"
)

// meshdCommand runs the binary with args and environ added to the test's environment.
func meshdCommand(t *testing.T, environ []string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(meshdBinary(t), args...)
	cmd.Env = append(os.Environ(), environ...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// treeDigest describes every file under dir — name, mode, size, time and contents — so that
// any change shows.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		content, _ := os.ReadFile(path)
		fmt.Fprintf(&b, "%s %v %d %v %x\n", path, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), sha256.Sum256(content))
		return nil
	})
	return b.String()
}

func TestBinaryCheck(t *testing.T) {
	served := t.TempDir()
	p := startMeshd(t, "-data-dir", served)
	p.post(t, `mutation { createGroup(name: "n", hostId: "h", domain: "d") { id } }`, nil)
	p.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	damaged := t.TempDir()
	os.WriteFile(filepath.Join(damaged, "meshd.db"), bytes.Repeat([]byte("garbage!"), 4096), 0o600)
	old := t.TempDir()
	format1, _ := os.ReadFile("../../store/testdata/format1.db")
	os.WriteFile(filepath.Join(old, "meshd.db"), format1, 0o600)
	missing := filepath.Join(t.TempDir(), "not-yet")

	tests := []struct {
		name    string
		environ []string
		args    []string
		status  int
		want    []string
	}{
		{"a served data directory", nil, []string{"-data-dir", served, "-api-keys", "k"}, 0, []string{
			"ok       settings are valid", "ok       secret " + served + "/secret is readable",
			"ok       state file " + served + "/meshd.db: format 2, 1 group, 0 members, 0 statuses", "meshd check: no problems"}},
		{"a data directory that does not exist yet", nil, []string{"-data-dir", missing}, 0, []string{
			"warning  no API key is set", "does not exist yet: meshd creates it at the first start"}},
		{"a damaged state file", nil, []string{"-data-dir", damaged}, 1, []string{
			"problem  state file " + damaged + "/meshd.db: the file is not a meshd state file or is corrupt"}},
		{"a state file of the previous format", nil, []string{"-data-dir", old}, 0, []string{
			"format 1, 2 groups, 2 members, 1 status, 32 KiB; the next start upgrades it to format 2 and keeps the original as " + old + "/meshd.db.format1"}},
		{"the editor's variable", []string{"MESH_API_KEY=k"}, []string{"-data-dir", served}, 1, []string{
			"problem  MESH_API_KEY is set but is not a meshd setting: it is ignored (did you mean MESH_API_KEYS?)"}},
		{"an invalid setting", nil, []string{"-data-dir", served, "-domain-mode", "x"}, 2, nil},
		{"a certificate that does not load", nil, []string{"-data-dir", served, "-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.key"}, 1, []string{
			"problem  load TLS certificate /nonexistent.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := treeDigest(t, filepath.Dir(missing)) + treeDigest(t, served) + treeDigest(t, damaged) + treeDigest(t, old)
			status, stdout, stderr := meshdCommand(t, tt.environ, append([]string{"check"}, tt.args...)...)
			if status != tt.status {
				t.Fatalf("exit status %d, want %d\n%s%s", status, tt.status, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if after := treeDigest(t, filepath.Dir(missing)) + treeDigest(t, served) + treeDigest(t, damaged) + treeDigest(t, old); after != before {
				t.Errorf("check changed files:\n%s\nthen\n%s", before, after)
			}
		})
	}

	// While a meshd runs on it, the state file cannot be checked, and check says so.
	startMeshd(t, "-data-dir", served)
	status, stdout, _ := meshdCommand(t, nil, "check", "-data-dir", served)
	if status != 0 || !strings.Contains(stdout, "warning  state file "+served+"/meshd.db is in use by a running meshd") {
		t.Fatalf("check of a running meshd's directory: exit %d\n%s", status, stdout)
	}
}

// TestBinaryBackupAndRestoreStopped backs up a stopped meshd's state file, restores it into
// another data directory and serves it from there.
func TestBinaryBackupAndRestoreStopped(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-data-dir", dir)
	id := p.post(t, `mutation { createGroup(name: "n", hostId: "h", domain: "d") { id } }`, nil)["createGroup"].(map[string]any)["id"].(string)
	p.Signal(syscall.SIGTERM)
	p.wait(t)

	file := filepath.Join(t.TempDir(), "lesson.db")
	status, stdout, stderr := meshdCommand(t, nil, "backup", "-data-dir", dir, file)
	if status != 0 || !strings.Contains(stdout, "backup "+file+": format 2, 1 group,") {
		t.Fatalf("backup: exit %d\n%s%s", status, stdout, stderr)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "secret"), []byte("other\n"), 0o600)
	status, stdout, stderr = meshdCommand(t, nil, "restore", "-data-dir", other, file)
	if status != 0 || !strings.Contains(stdout, "restored "+other+"/meshd.db from "+file) {
		t.Fatalf("restore: exit %d\n%s%s", status, stdout, stderr)
	}
	again := startMeshd(t, "-data-dir", other)
	list := again.post(t, `query { listGroupsByDomain(domain: "d") { id } }`, nil)["listGroupsByDomain"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != id {
		t.Fatalf("the restored meshd lists %v, want group %s", list, id)
	}
	// A running meshd's state file is not replaced under it.
	status, _, stderr = meshdCommand(t, nil, "restore", "-data-dir", other, file)
	if status != 1 || !strings.Contains(stderr, "locked by another process (is another meshd running with this data directory?): stop meshd first") {
		t.Fatalf("restore under a running meshd: exit %d\n%s", status, stderr)
	}
	for _, args := range [][]string{{"backup"}, {"backup", "a", "b"}, {"restore", "-store", "memory", file}} {
		if status, _, _ := meshdCommand(t, nil, args...); status != 2 {
			t.Errorf("meshd %v: exit %d, want 2", args, status)
		}
	}
}

// TestBinaryUpgradesAFormat1File starts meshd on the state file of the previous format.
func TestBinaryUpgradesAFormat1File(t *testing.T) {
	dir := t.TempDir()
	format1, _ := os.ReadFile("../../store/testdata/format1.db")
	os.WriteFile(filepath.Join(dir, "meshd.db"), format1, 0o600)
	p := startMeshd(t, "-data-dir", dir)
	p.Signal(syscall.SIGTERM)
	p.wait(t)
	want := `msg="state file upgraded to a new format version; the original is kept" from=1 to=2 kept=` + dir + "/meshd.db.format1"
	if !strings.Contains(p.Logs(), want) {
		t.Fatalf("no upgrade logged:\n%s", p.Logs())
	}
	if kept, _ := os.ReadFile(filepath.Join(dir, "meshd.db.format1")); !bytes.Equal(kept, format1) {
		t.Fatal("the original is not kept")
	}
	status, stdout, _ := meshdCommand(t, nil, "check", "-data-dir", dir)
	if status != 0 || !strings.Contains(stdout, "meshd.db: format 2") {
		t.Fatalf("check after the upgrade: %d\n%s", status, stdout)
	}
}

// TestBinaryBackupWhileRunning backs up a running meshd under write load, through its
// authenticated endpoint: the copy opens, verifies and holds the lesson as of one commit.
func TestBinaryBackupWhileRunning(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-data-dir", dir)
	addr := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://"), "/graphql")
	stop := make(chan struct{})
	written := make(chan int)
	go func() {
		n := 0
		defer func() { written <- n }()
		for i := range 2000 {
			select {
			case <-stop:
				return
			default:
			}
			if p.postQuiet(fmt.Sprintf(`mutation { createGroup(name: "n", hostId: "h%d", domain: "d") { id } }`, i), nil) != nil {
				n++
			}
		}
	}()
	// Let some writes land first, so that the backup is taken while they go on.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		list := p.postQuiet(`query { listGroupsByDomain(domain: "d") { id } }`, nil)
		if list != nil && len(list["listGroupsByDomain"].([]any)) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no writes landed")
		}
	}
	file := filepath.Join(t.TempDir(), "live.db")
	status, stdout, stderr := meshdCommand(t, nil, "backup", "-data-dir", dir, "-listen-addr", addr, file)
	close(stop)
	total := <-written
	if status != 0 || !strings.Contains(stdout, "from the running meshd at http://"+addr+"/console/api/backup") {
		t.Fatalf("backup of a running meshd: exit %d\n%s%s", status, stdout, stderr)
	}
	info, err := store.Inspect(file)
	if err != nil {
		t.Fatalf("the backup does not verify: %v", err)
	}
	if info.Groups < 20 || info.Groups > total {
		t.Fatalf("the backup holds %d groups of the %d written", info.Groups, total)
	}
	if !strings.Contains(p.Logs(), `msg="backup taken"`) {
		t.Errorf("the backup is not logged:\n%s", p.Logs())
	}

	// Only an admin key may take one.
	for _, key := range []string{"wrong-key-0123456789"} {
		status, _, stderr = meshdCommand(t, nil, "backup", "-data-dir", dir, "-listen-addr", addr, "-admin-keys", key, filepath.Join(t.TempDir(), "x.db"))
		if status != 1 || !strings.Contains(stderr, "401 Unauthorized") {
			t.Errorf("backup with key %s: exit %d\n%s", key, status, stderr)
		}
	}
	code, _ := get(t, http.DefaultClient, "http://"+addr+"/console/api/backup")
	if code != http.StatusUnauthorized {
		t.Errorf("GET /console/api/backup without a key: %d", code)
	}
}

// TestAdminEndpointPinsTheCertificate reaches an HTTPS meshd by its loopback address: the
// client accepts the certificate of -tls-cert, whatever its name, and no other.
func TestAdminEndpointPinsTheCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	dir := t.TempDir()
	served := filepath.Join(dir, "served.pem")
	os.WriteFile(served, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	other := filepath.Join(dir, "other.pem")
	writeCert(t, other, filepath.Join(dir, "other.key"), 7)
	addr := strings.TrimPrefix(srv.URL, "https://")
	for _, tt := range []struct {
		cert string
		ok   bool
	}{{served, true}, {other, false}} {
		client, err := running.Client("https://"+addr, tt.cert)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get("https://" + addr + "/")
		if resp != nil {
			resp.Body.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("-tls-cert %s: %v", filepath.Base(tt.cert), err)
		}
	}
}

// fullStateFile writes a state file whose bbolt mapping is nearly full of live groups, so
// that a few more commits must grow (and remap) it, and returns its size.
func fullStateFile(t *testing.T, path string) int64 {
	t.Helper()
	s, err := store.OpenBolt(path, store.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for i := 0; s.Size() < 15800<<10; i++ {
		g := fmt.Sprint("g", i)
		ops := []store.Op{{Kind: store.PutGroup, Group: &store.Group{Domain: "d", ID: g, Name: g, HostID: g,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), HeartbeatAt: now, UseWebSocket: true}}}
		for j := range 16 {
			ops = append(ops, store.Op{Kind: store.PutStatus, Status: &store.Status{Domain: "d", GroupID: g, NodeID: fmt.Sprint(g, "n", j),
				Data: []store.Pair{{Key: "v", Value: strings.Repeat("x", 4000)}}, Timestamp: now}})
		}
		if err := s.Commit(t.Context(), ops); err != nil {
			t.Fatal(err)
		}
	}
	return s.Size()
}

// A backup read slowly (meshd backup - | less, a slow link) never holds commits: while one
// stalls with most of a 16 MB state file unread, pupils keep creating groups.
func TestBinarySlowBackupDoesNotHoldCommits(t *testing.T) {
	dir := t.TempDir()
	size := fullStateFile(t, filepath.Join(dir, "meshd.db"))
	const key = "a-long-enough-admin-key"
	p := startMeshd(t, "-data-dir", dir, "-console-addr", "127.0.0.1:0", "-admin-keys", key, "-request-timeout", "5s", "-write-timeout", "10s")
	console := logLine(t, p, regexp.MustCompile(`msg="console listening" url=http://(127\.0\.0\.1:\d+)/console/`))[1]

	// A reader that takes the headers and then nothing, through a small receive window.
	conn, err := net.Dial("tcp", console)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /console/api/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", key)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if status, err := bufio.NewReader(io.LimitReader(conn, 64)).ReadString('\n'); err != nil || !strings.Contains(status, "200") {
		t.Fatalf("backup answered %q, %v", status, err)
	}
	for i := range 200 {
		if _, err := p.send(fmt.Sprintf(`mutation { createGroup(name: "n", hostId: "slow%d", domain: "d") { id } }`, i), nil); err != nil {
			t.Fatalf("createGroup %d while a backup of %d bytes is read slowly: %v", i, size, err)
		}
	}
}

// meshd backup and meshd status talk to the meshd that holds their data directory, found
// from the address it records there, never to whatever listens on their own -listen-addr:
// here another meshd with the same admin key, whose address they are given.
func TestBackupAndStatusFindTheirMeshd(t *testing.T) {
	const key = "a-shared-admin-key-0123"
	ours, other := t.TempDir(), t.TempDir()
	a := startMeshd(t, "-data-dir", ours, "-admin-keys", key)
	a.post(t, `mutation { createGroup(name: "ours", hostId: "h", domain: "d") { id } }`, nil)
	b := startMeshd(t, "-data-dir", other, "-admin-keys", key)
	b.post(t, `mutation { createGroup(name: "other", hostId: "h", domain: "d") { id } }`, nil)
	b.post(t, `mutation { createGroup(name: "other2", hostId: "h2", domain: "d") { id } }`, nil)
	otherAddr := strings.TrimSuffix(strings.TrimPrefix(b.URL, "http://"), "/graphql")

	file := filepath.Join(t.TempDir(), "ours.db")
	status, stdout, stderr := meshdCommand(t, []string{"MESH_ADMIN_KEYS=" + key}, "backup", "-data-dir", ours, "-listen-addr", otherAddr, file)
	if status != 0 {
		t.Fatalf("backup: exit %d\n%s%s", status, stdout, stderr)
	}
	if info, err := store.Inspect(file); err != nil || info.Groups != 1 {
		t.Fatalf("the backup of %s holds %+v (%v), want its one group, not the other meshd's two", ours, info, err)
	}
	status, stdout, stderr = meshdCommand(t, []string{"MESH_ADMIN_KEYS=" + key, "MESH_LISTEN_ADDR=" + otherAddr, "MESH_DATA_DIR=" + ours}, "status")
	if status != 0 || !strings.Contains(stdout, "ours") || strings.Contains(stdout, "other") {
		t.Fatalf("status of %s: exit %d\n%s%s", ours, status, stdout, stderr)
	}

	// A record whose address another server has taken since is noticed, and nothing written.
	rec, err := running.Read(ours)
	if err != nil {
		t.Fatal(err)
	}
	stale := running.Record{URL: "http://" + otherAddr, Instance: rec.Instance, PID: rec.PID}
	if err := stale.Write(ours); err != nil {
		t.Fatal(err)
	}
	status, _, stderr = meshdCommand(t, []string{"MESH_ADMIN_KEYS=" + key}, "backup", "-data-dir", ours, filepath.Join(t.TempDir(), "x.db"))
	if status != 1 || !strings.Contains(stderr, "is not the meshd that holds "+ours) {
		t.Fatalf("backup through a stale record: exit %d\n%s", status, stderr)
	}
	status, _, stderr = meshdCommand(t, []string{"MESH_ADMIN_KEYS=" + key}, "status", "-data-dir", ours)
	if status != 1 || !strings.Contains(stderr, "is not the meshd that holds "+ours) {
		t.Fatalf("status through a stale record: exit %d\n%s", status, stderr)
	}
	// A clean stop forgets the record.
	a.Signal(syscall.SIGTERM)
	a.wait(t)
	if _, err := os.Stat(filepath.Join(other, running.File)); err != nil {
		t.Fatalf("the other meshd's record: %v", err)
	}
	b.Signal(syscall.SIGTERM)
	b.wait(t)
	if _, err := os.Stat(filepath.Join(other, running.File)); !os.IsNotExist(err) {
		t.Fatalf("a stopped meshd's record is left: %v", err)
	}
}

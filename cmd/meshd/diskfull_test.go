package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// TestDiskFullRollsBackAndReadyzFollows runs the real binary on a 2 MiB tmpfs and fills it:
// a create whose commit fails answers InternalError and leaves no group behind, /readyz
// answers 503 until a commit succeeds again, the retry after space is freed is written before
// it is answered, and a SIGKILL loses nothing acknowledged. Mounting needs root, which the test run has.
func TestDiskFullRollsBackAndReadyzFollows(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a 2 MiB tmpfs: needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s (needs root): %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	// No sweeps: their probe would race the checks of /readyz below (a broker test covers it).
	args := []string{"-data-dir", dir, "-domain-mode", "fixed", "-sweep-interval", "1h"}
	p := startMeshd(t, args...)
	base := strings.TrimSuffix(p.URL, "/graphql")
	const create = `mutation($h: ID!, $n: String!) { createGroup(name: $n, hostId: $h, domain: "d1", useWebSocket: true) { id } }`
	const list = `{ listGroupsByDomain(domain: "d1") { id hostId } }`
	acked := map[string]string{} // host → group id
	ok := func(host string) {
		t.Helper()
		acked[host] = p.post(t, create, map[string]any{"h": host, "n": host})["createGroup"].(map[string]any)["id"].(string)
	}
	ok("before")

	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	// bbolt reuses the pages it freed before it grows the file: the first creates may still fit.
	failed := ""
	for i := range 500 {
		host := "full" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		_, err := p.send(create, map[string]any{"h": host, "n": host})
		if err == nil {
			acked[host] = ""
			continue
		}
		if e := new(meshdtest.Error); !errors.As(err, &e) || e.Type != "InternalError" {
			t.Fatalf("a create on a full disk: %v", err)
		}
		failed = host
		break
	}
	if failed == "" {
		t.Fatal("500 creates fit on a full 2 MiB disk: the disk never filled")
	}
	listed := p.post(t, list, nil)["listGroupsByDomain"].([]any)
	for _, g := range listed {
		if g.(map[string]any)["hostId"] == failed {
			t.Fatalf("the group whose commit failed is listed: %v", g)
		}
	}
	if code, body := get(t, http.DefaultClient, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Fatalf("/readyz on a full disk: %d %q\n%s", code, body, p.Logs())
	}
	if code, _ := get(t, http.DefaultClient, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz on a full disk: %d", code)
	}
	if !strings.Contains(p.Logs(), "store commits are failing") {
		t.Fatalf("the failing store was not logged:\n%s", p.Logs())
	}

	if err := os.Remove(filler.Name()); err != nil {
		t.Fatal(err)
	}
	ok(failed) // the editor's retry: a new group, written before it is answered
	if code, body := get(t, http.DefaultClient, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz after space was freed: %d %q", code, body)
	}
	if !strings.Contains(p.Logs(), "store commits succeed again") {
		t.Fatalf("the recovery was not logged:\n%s", p.Logs())
	}
	p.Signal(syscall.SIGKILL)
	p.wait(t)

	p = startMeshd(t, args...)
	got := map[string]string{}
	for _, g := range p.post(t, list, nil)["listGroupsByDomain"].([]any) {
		m := g.(map[string]any)
		got[m["hostId"].(string)] = m["id"].(string)
	}
	for host, id := range acked {
		if got[host] == "" || id != "" && got[host] != id {
			t.Fatalf("acknowledged group of %s lost after SIGKILL: have %v", host, got)
		}
	}
	if len(got) != len(acked) {
		t.Fatalf("after the restart %d groups, %d acknowledged: %v", len(got), len(acked), got)
	}
}

package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/gql/realclient"
)

// TestPrebuiltEditorWithTheRealClient serves a prebuilt editor from the real binary and lets
// the editor's SDK, configured with the endpoint found in the served bundle, run a lesson:
// create, subscribe, join, report, receive.
func TestPrebuiltEditorWithTheRealClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts meshd and Node; not with -short")
	}
	const bundle = "/gui.0123abcd4567ef890123.js"
	node, dir := realclient.Setup(t)
	p := startMeshd(t, "-store", "memory", "-static", "editor/testdata/prebuilt")
	base := strings.TrimSuffix(p.URL, "/graphql")
	if code, body := get(t, http.DefaultClient, base+"/"); code != 200 || !strings.Contains(body, "<title>Smalruby</title>") {
		t.Fatalf("/ = %d %q", code, body)
	}
	cmd := exec.Command(node, "--test", "--test-force-exit", "--test-reporter=spec", "editor.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MESHD_EDITOR_BUNDLE_URL="+base+bundle, "NO_COLOR=1")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("node --test editor.test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the real client against the served editor: %v\nmeshd log:\n%s", err, p.Logs())
	}
	if !strings.Contains(p.Logs(), `msg="editor endpoint rewritten"`) {
		t.Fatalf("no rewrite logged:\n%s", p.Logs())
	}
}

// `cd editor-build && meshd -static .` would serve the default data directory inside it — the
// state file, the secret, the admin key. meshd refuses to start, and meshd check refuses it too,
// before either writes anything.
func TestStaticRefusesItsDataDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/index.html", []byte("<title>Smalruby</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-static", "."}, {"check", "-static", "."}} {
		// Before, meshd started and served: the deadline ends that.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, meshdBinary(t), args...)
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "the data directory meshd-data and the editor's directory . overlap") {
			t.Fatalf("meshd %v: exit %d\n%s", args, cmd.ProcessState.ExitCode(), out)
		}
		if _, err := os.Stat(dir + "/meshd-data"); !os.IsNotExist(err) {
			t.Fatalf("meshd %v created its data directory inside the editor's: %v", args, err)
		}
	}
}

package main

import (
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

package deploy_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// prebuiltEditor is a fixture of the published editor's build: its bundle carries the AWS
// endpoint and the da2- key compiled in, as the one on smalruby.app does.
const prebuiltEditor = "../cmd/meshd/editor/testdata/prebuilt"

// piSettings returns the lines the Pi guide tells the reader to put in /etc/meshd/meshd.env
// for the published editor: the shell block after <!-- pi settings -->.
func piSettings(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("raspberry-pi.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- pi settings -->\n```sh\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("raspberry-pi.md has no <!-- pi settings --> block")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestPiGuideServesThePublishedEditor starts meshd with exactly the Pi guide's settings and the
// published editor's build in MESH_STATIC_DIR (the README's recommended setup), and sends the
// key found in the served bundle, as the editor does: meshd must accept it.
func TestPiGuideServesThePublishedEditor(t *testing.T) {
	settings := piSettings(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "MESH_LISTEN_ADDR=127.0.0.1:0", "MESH_DATA_DIR=" + t.TempDir(), "MESH_LOG_FORMAT=text"}
	static := false
	for _, s := range settings {
		if v, ok := strings.CutPrefix(s, "MESH_STATIC_DIR="); ok {
			if v != "/srv/smalruby" {
				t.Errorf("the guide serves the editor from %s, the READMEs from /srv/smalruby", v)
			}
			abs, _ := filepath.Abs(prebuiltEditor)
			s, static = "MESH_STATIC_DIR="+abs, true
		}
		env = append(env, s)
	}
	if !static {
		t.Fatalf("the Pi guide's settings do not serve the editor: %q", settings)
	}
	entries, _ := os.ReadDir(prebuiltEditor)
	var bundle string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".js") {
			bundle = e.Name()
		}
	}
	p := startMeshd(t, meshdtest.Options{Binary: crossBuild(t, runtime.GOARCH, ""), Environ: env}, "")
	res, err := http.Get(p.base + "/" + bundle)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(res.Body)
	res.Body.Close()
	key := regexp.MustCompile(`API_KEY=""\|\|"(da2-[^"]*)"`).FindSubmatch(js)
	if key == nil {
		t.Fatalf("no da2- key in the served bundle:\n%.400s", js)
	}
	p.key = string(key[1])
	if d := p.post(t, `mutation { createDomain }`, nil)["createDomain"]; d == "" {
		t.Fatal("createDomain with the published editor's key")
	}
	p.stop(t)
}

// Package deploy_test checks the deployment files against the meshd they deploy.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// settings returns every MESH_* variable meshd reads, from its own -h.
func settings(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command("go", "run", "../cmd/meshd", "-h").CombinedOutput()
	found := map[string]bool{}
	for _, m := range regexp.MustCompile(`MESH_[A-Z_]+`).FindAllString(string(out), -1) {
		found[m] = true
	}
	if len(found) < 20 {
		t.Fatalf("meshd -h lists %d settings:\n%s", len(found), out)
	}
	return found
}

// deployFiles returns the text of every file under deploy/ except this test.
func deployFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestOnlyRealSettings(t *testing.T) {
	known := settings(t)
	for path, text := range deployFiles(t) {
		for _, name := range regexp.MustCompile(`MESH_[A-Z_]+[A-Z]`).FindAllString(text, -1) {
			// The editor's build-time variables are not meshd's.
			if name == "MESH_GRAPHQL_ENDPOINT" || name == "MESH_API_KEY" {
				continue
			}
			if !known[name] {
				t.Errorf("%s names %s, which meshd does not read", path, name)
			}
		}
	}
}

func TestKubernetesManifestsParse(t *testing.T) {
	paths, _ := filepath.Glob("kubernetes/*.yaml")
	if len(paths) < 4 {
		t.Fatalf("only %d manifests", len(paths))
	}
	kinds := map[string]bool{}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Metadata   struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
				Resources []string `yaml:"resources"`
			}
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if doc.APIVersion == "" || doc.Kind == "" {
				t.Fatalf("%s: a document without apiVersion or kind", path)
			}
			if doc.Kind != "Kustomization" && doc.Metadata.Name == "" {
				t.Fatalf("%s: %s without a name", path, doc.Kind)
			}
			for _, r := range doc.Resources {
				if _, err := os.Stat(filepath.Join("kubernetes", r)); err != nil {
					t.Fatalf("kustomization lists a missing %s", r)
				}
			}
			kinds[doc.Kind] = true
		}
	}
	for _, k := range []string{"StatefulSet", "Service", "Kustomization", "Ingress", "Secret"} {
		if !kinds[k] {
			t.Errorf("no %s manifest", k)
		}
	}
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("grafana/meshd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	// The names meshd registers (cmd/meshd and its packages: metrics, console, ...), with their
	// histogram series.
	exported := map[string]bool{}
	err = filepath.WalkDir("../cmd/meshd", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range regexp.MustCompile(`"(meshd_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
			for _, suffix := range []string{"", "_bucket", "_count", "_sum"} {
				exported[m[1]+suffix] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exported["meshd_groups"] {
		t.Fatal("found no meshd_groups in cmd/meshd's sources: the scan misses where the metrics are registered")
	}
	queried := 0
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, name := range regexp.MustCompile(`\b(meshd|go|process)_[a-z_]+`).FindAllString(target.Expr, -1) {
				queried++
				used[name] = true
				if strings.HasPrefix(name, "meshd_") && !exported[name] {
					t.Errorf("panel %q queries %s, which meshd does not export", p.Title, name)
				}
			}
		}
	}
	// Every failure mode has a panel.
	for _, name := range []string{
		"meshd_http_responses_total", "meshd_auth_failures_total", "meshd_console_auth_failures_total",
		"meshd_realtime_sockets_closed_total", "meshd_groups_expired_total", "meshd_store_last_commit_failed",
		"meshd_store_last_commit_error_timestamp_seconds", "meshd_store_file_bytes", "meshd_store_commit_errors_total",
		"meshd_slow_consumer_disconnects_total", "meshd_bus_dropped_messages_total", "meshd_build_info",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	if queried < 15 {
		t.Fatalf("the dashboard queries only %d series", queried)
	}
}

func TestSystemdUnit(t *testing.T) {
	unit := "systemd/meshd.service"
	raw, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	section := ""
	seen := map[string]bool{}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
		case strings.Contains(line, "=") && section != "":
			seen[section+strings.SplitN(line, "=", 2)[0]] = true
		default:
			t.Fatalf("%s:%d: not a section, comment or Key=Value: %q", unit, i+1, line)
		}
	}
	for _, key := range []string{"[Service]Type", "[Service]WatchdogSec", "[Service]ExecStart", "[Service]DynamicUser", "[Service]StateDirectory", "[Service]ProtectSystem", "[Service]NoNewPrivileges", "[Service]ExecReload", "[Install]WantedBy"} {
		if !seen[key] {
			t.Errorf("the unit has no %s", key)
		}
	}
	// meshd speaks sd_notify (cmd/meshd/sdnotify): the unit must expect it.
	if !strings.Contains(string(raw), "\nType=notify\n") {
		t.Error("the unit is not Type=notify")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the syntax check above is all")
		return
	}
	// verify wants the ExecStart binary to exist: point a copy of the unit at a real one.
	dir := t.TempDir()
	copyUnit := strings.ReplaceAll(string(raw), "/usr/local/bin/meshd", "/bin/true")
	if err := os.WriteFile(filepath.Join(dir, "meshd.service"), []byte(copyUnit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "meshd.service")).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		// verify also reports on units of the machine it runs on; only ours matter.
		if strings.Contains(line, "meshd.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
}

func TestContainerfile(t *testing.T) {
	raw, err := os.ReadFile("container/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{"FROM scratch", "USER 65532", "CGO_ENABLED=0", "VOLUME [\"/data\"]", "MESH_DATA_DIR=/data", "ENTRYPOINT [\"/meshd\"]"} {
		if !strings.Contains(text, want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^ADD\s+https?://`).MatchString(text) {
		t.Error("Containerfile downloads with ADD")
	}
}

// TestCrossBuild builds the binary for the school server, a 64-bit Pi and a 32-bit Pi.
func TestCrossBuild(t *testing.T) {
	for _, target := range []struct{ name, goarch, goarm string }{
		{"linux-amd64", "amd64", ""},
		{"linux-arm64", "arm64", ""},
		{"linux-armv7", "arm", "7"},
	} {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			crossBuild(t, target.goarch, target.goarm)
		})
	}
}

var (
	builtMu sync.Mutex
	built   = map[string]*crossBinary{}
)

// TestMain removes the cross-built binaries the tests shared.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range built {
		if b.bin != nil {
			b.bin.Remove()
		}
	}
	os.Exit(code)
}

// crossBinary is one cross-built meshd, shared by the tests that need it.
type crossBinary struct {
	once sync.Once
	bin  *meshdtest.Binary
	err  error
}

// crossBuild builds meshd for linux/goarch (GOARM goarm) once per test run, as the Pi guide
// does, and returns the binary.
func crossBuild(t *testing.T, goarch, goarm string) string {
	t.Helper()
	builtMu.Lock()
	b := built[goarch+goarm]
	if b == nil {
		b = &crossBinary{}
		built[goarch+goarm] = b
	}
	builtMu.Unlock()
	b.once.Do(func() {
		b.bin, b.err = meshdtest.Build(context.Background(), []string{"-trimpath"}, []string{"GOOS=linux", "GOARCH=" + goarch, "GOARM=" + goarm, "CGO_ENABLED=0"})
	})
	if b.err != nil {
		t.Fatalf("build for %s%s: %v", goarch, goarm, b.err)
	}
	return b.bin.Path
}

func TestKustomizationSetsTheImage(t *testing.T) {
	for _, dir := range []string{"kubernetes", "kubernetes/cluster"} {
		t.Run(dir, func(t *testing.T) { kustomizationSetsTheImage(t, dir) })
	}
}

// kustomizationSetsTheImage checks that dir's kustomization gives its StatefulSet's image a
// name and tag, so that kubectl apply -k alone deploys a built image.
func kustomizationSetsTheImage(t *testing.T, dir string) {
	var kust struct {
		Images []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &kust); err != nil {
		t.Fatal(err)
	}
	var set struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Image           string `yaml:"image"`
						ImagePullPolicy string `yaml:"imagePullPolicy"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	raw, err = os.ReadFile(filepath.Join(dir, "statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	containers := set.Spec.Template.Spec.Containers
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	c := containers[0]
	if strings.Contains(c.Image, ":") || c.ImagePullPolicy != "IfNotPresent" {
		t.Errorf("the StatefulSet runs %q (pull %q): a bare name the kustomization sets, pulled if not present", c.Image, c.ImagePullPolicy)
	}
	if len(kust.Images) != 1 || kust.Images[0].Name != c.Image || kust.Images[0].NewTag == "" || kust.Images[0].NewTag == "latest" {
		t.Errorf("kustomization images: %+v, want one entry for %q with a tag other than latest", kust.Images, c.Image)
	}
}

// TestDockerignore applies .dockerignore to the repository as a container build would and
// checks what enters the build context.
func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	// ignored is the subset of the .dockerignore syntax the file uses: "**/name" for a name
	// anywhere, "**/*.ext", and paths from the root.
	ignored := func(path string) bool {
		for _, p := range patterns {
			if rest, ok := strings.CutPrefix(p, "**/"); ok {
				for _, part := range strings.Split(path, "/") {
					if ok, _ := filepath.Match(rest, part); ok {
						return true
					}
				}
			} else if path == p || strings.HasPrefix(path, p+"/") {
				return true
			}
		}
		return false
	}
	for _, path := range []string{".git", "gql/testdata/node/node_modules/x/index.js", "meshd-data/meshd.db", "cmd/meshd/meshd-data/secret", "meshd"} {
		if !ignored(path) {
			t.Errorf("%s enters the build context", path)
		}
	}
	var context []string
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if rel != "." && ignored(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			context = append(context, filepath.ToSlash(rel))
		}
		return nil
	})
	for _, need := range []string{"go.mod", "go.sum", "cmd/meshd/main.go", "gql/schema.graphql", "cmd/meshd/console/assets"} {
		found := false
		for _, f := range context {
			if f == need || strings.HasPrefix(f, need+"/") {
				found = true
			}
		}
		if !found {
			t.Errorf("the build needs %s, which .dockerignore leaves out", need)
		}
	}
}

// Package debian holds the maintainer scripts of meshd's Debian package (postinst, prerm,
// postrm, lintian-overrides), which go run ./deploy/release puts into the package, and the
// test that installs the package the way a school's IT person does.
package debian

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
	"github.com/smalruby/meshd/deploy/apttest"
	"github.com/smalruby/meshd/gql/realclient"
)

// suite is the Debian release the throwaway root is made of.
const suite = "bookworm"

// apiKey is the editor's kind of key, as the real-client tests use it.
const apiKey = "da2-meshd~~~~~~realclient??????test"

// TestInstalledPackage builds the packages with the release command, installs the amd64 one
// into a throwaway Debian root with dpkg, checks what it installed, runs meshd from the
// installed files as the meshd user with the editor's real client against it, upgrades to a
// second build and finds the lesson and the admin key again, removes and purges. The arm64 and
// armhf packages' binaries run the same client under qemu-user.
func TestInstalledPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release and installs it into a Debian root; not with -short")
	}
	apttest.Require(t, "a Debian root in a chroot")
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("debootstraps an amd64 Debian root and runs its programs: needs an amd64 Linux host")
	}
	node, nodeDir := realclient.Setup(t)
	root := repoRoot(t)
	// The Debian root is made (once, then cached) while the packages build.
	debootstrapTool := apttest.Tool(t, "debootstrap", "debootstrap")
	lintian := apttest.Tool(t, "lintian", "lintian")
	image, made := debianImage(t, debootstrapTool)
	first, second := t.TempDir(), t.TempDir()
	release(t, root, "1.2.3", first)
	release(t, root, "1.2.4", second, "-platforms", "linux-amd64")

	// lintian runs beside the install.
	debs, _ := filepath.Glob(filepath.Join(first, "*.deb"))
	var lintOut bytes.Buffer
	lint := exec.Command(lintian, append([]string{"--tag-display-limit", "0"}, debs...)...)
	lint.Stdout, lint.Stderr = &lintOut, &lintOut
	if err := lint.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		err := lint.Wait()
		t.Logf("lintian on %d packages:\n%s", len(debs), &lintOut)
		for _, line := range strings.Split(lintOut.String(), "\n") {
			if strings.HasPrefix(line, "E: ") {
				t.Errorf("lintian reports an error: %s", line)
			}
		}
		if err != nil && !strings.Contains(lintOut.String(), "E: ") {
			t.Errorf("lintian: %v", err)
		}
	}()

	switch err := <-made; {
	case errors.Is(err, errMade):
		t.Logf("the Debian root is made and cached at %s (%s); later runs unpack it", time.Now().Format(time.TimeOnly), image)
	case err != nil:
		t.Fatal(err)
	}
	chroot := debianRoot(t, image)
	install := func(dir, deb string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, deb))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(chroot, "tmp", deb), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return in(t, chroot, "dpkg", "-i", "/tmp/"+deb)
	}
	out := install(first, "meshd_1.2.3_amd64.deb")
	if !strings.Contains(out, "systemd is not running here") {
		t.Errorf("dpkg -i did not say why meshd was not started:\n%s", out)
	}

	// What the package installed.
	pw := strings.Split(strings.TrimSpace(in(t, chroot, "getent", "passwd", "meshd")), ":")
	if len(pw) != 7 || pw[5] != "/var/lib/meshd" || pw[6] != "/usr/sbin/nologin" {
		t.Fatalf("meshd user: %q", pw)
	}
	uid, _ := strconv.Atoi(pw[2])
	if uid == 0 || uid >= 1000 {
		t.Errorf("meshd's uid %d is not a system user's", uid)
	}
	expectFile(t, chroot, "/var/lib/meshd", os.ModeDir|0o700, uid)
	expectFile(t, chroot, "/etc/meshd/meshd.env", 0o600, 0)
	expectFile(t, chroot, "/usr/bin/meshd", 0o755, 0)
	if conf := in(t, chroot, "dpkg-query", "-W", "-f=${Conffiles}", "meshd"); !strings.Contains(conf, "/etc/meshd/meshd.env ") {
		t.Errorf("conffiles: %q", conf)
	}
	unit := read(t, filepath.Join(chroot, "lib/systemd/system/meshd.service"))
	for _, want := range []string{"\nExecStart=/usr/bin/meshd\n", "\nUser=meshd\n", "\nEnvironmentFile=-/etc/meshd/meshd.env\n", "\nEnvironment=MESH_DATA_DIR=/var/lib/meshd\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q:\n%s", strings.TrimSpace(want), unit)
		}
	}
	if strings.Contains(unit, "DynamicUser") {
		t.Error("the packaged unit still uses DynamicUser")
	}
	if target, err := os.Readlink(filepath.Join(chroot, "etc/systemd/system/multi-user.target.wants/meshd.service")); err != nil || !strings.HasSuffix(target, "/meshd.service") {
		t.Errorf("meshd.service is not enabled: %q %v", target, err)
	}

	// The settings an IT person would add, then meshd check and a start as the service.
	settings := read(t, filepath.Join(chroot, "etc/meshd/meshd.env")) +
		"MESH_LISTEN_ADDR=127.0.0.1:0\nMESH_API_KEYS=" + apiKey + "\nMESH_LOG_FORMAT=text\n" +
		// The lesson's group outlives the upgrade however slow the machine is.
		"MESH_HOST_HEARTBEAT_TTL_SECONDS=1800\n"
	if err := os.WriteFile(filepath.Join(chroot, "etc/meshd/meshd.env"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	env := unitEnvironment(t, chroot, unit)
	check := exec.Command("chroot", "--userspec=meshd:meshd", chroot, "/usr/bin/meshd", "check")
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "meshd check: no problems") {
		t.Errorf("meshd check as the meshd user: %v\n%s", err, out)
	}
	m := startInChroot(t, chroot, env)
	runClient(t, node, nodeDir, m)
	domain, group := lesson(t, m)
	stop(t, m)
	key := read(t, filepath.Join(chroot, "var/lib/meshd/admin-key"))
	expectFile(t, chroot, "/var/lib/meshd/admin-key", 0o600, uid)
	expectFile(t, chroot, "/var/lib/meshd/meshd.db", 0o600, uid)
	if out := in(t, chroot, "/usr/bin/meshd", "login", "-data-dir", "/var/lib/meshd"); !strings.Contains(out, strings.TrimSpace(key)) || !strings.Contains(out, "/console/") {
		t.Errorf("meshd login:\n%s", out)
	}

	// The upgrade keeps the settings, the state and the key.
	install(second, "meshd_1.2.4_amd64.deb")
	if v := in(t, chroot, "/usr/bin/meshd", "version"); !strings.HasPrefix(v, "meshd 1.2.4 ") {
		t.Errorf("after the upgrade: %s", v)
	}
	if got := read(t, filepath.Join(chroot, "etc/meshd/meshd.env")); got != settings {
		t.Errorf("the upgrade changed the settings:\n%s", got)
	}
	if got := read(t, filepath.Join(chroot, "var/lib/meshd/admin-key")); got != key {
		t.Error("the upgrade changed the admin key")
	}
	m = startInChroot(t, chroot, env)
	if d := post(t, m, `mutation { createDomain }`, nil)["createDomain"]; d != domain {
		t.Errorf("domain %v after the upgrade, was %s", d, domain)
	}
	list := post(t, m, `query($d: String!) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": domain})["listGroupsByDomain"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != group {
		t.Errorf("the lesson's group after the upgrade: %v", list)
	}
	runClient(t, node, nodeDir, m)
	stop(t, m)

	// Removing keeps state and settings; purging deletes them.
	in(t, chroot, "dpkg", "--remove", "meshd")
	for _, p := range []string{"var/lib/meshd/admin-key", "var/lib/meshd/meshd.db", "etc/meshd/meshd.env"} {
		if _, err := os.Stat(filepath.Join(chroot, p)); err != nil {
			t.Errorf("dpkg --remove deleted /%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(chroot, "usr/bin/meshd")); err == nil {
		t.Error("dpkg --remove left /usr/bin/meshd")
	}
	in(t, chroot, "dpkg", "--purge", "meshd")
	for _, p := range []string{"var/lib/meshd", "etc/meshd/meshd.env"} {
		if _, err := os.Stat(filepath.Join(chroot, p)); err == nil {
			t.Errorf("dpkg --purge left /%s", p)
		}
	}

	// The Raspberry Pi packages' binaries under qemu-user, with the same client.
	for _, arch := range []struct{ deb, qemu string }{{"arm64", "qemu-aarch64-static"}, {"armhf", "qemu-arm-static"}} {
		t.Run(arch.deb, func(t *testing.T) {
			emulator := apttest.Tool(t, arch.qemu, "qemu-user-static")
			dir := t.TempDir()
			if out, err := exec.Command("dpkg-deb", "-x", filepath.Join(first, "meshd_1.2.3_"+arch.deb+".deb"), dir).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
			}
			m := start(t, meshdtest.Options{Prefix: []string{emulator}, Binary: filepath.Join(dir, "usr/bin/meshd"), Environ: []string{
				"MESH_LISTEN_ADDR=127.0.0.1:0", "MESH_API_KEYS=" + apiKey, "MESH_DATA_DIR=" + filepath.Join(dir, "data")}})
			runClient(t, node, nodeDir, m)
			stop(t, m)
		})
	}
}

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// release runs the release command, as the README says, into out.
func release(t *testing.T, root, version, out string, flags ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", "./deploy/release", "-version", version, "-out", out}, flags...)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./deploy/release -version %s: %v\n%s", version, err, b)
	}
}

// in runs a command inside the chroot and returns its output, failing the test when it fails.
func in(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("chroot", append([]string{root}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// expectFile checks the mode and owner of path inside root.
func expectFile(t *testing.T, root, path string, mode os.FileMode, uid int) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, path))
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != mode {
		t.Errorf("%s: mode %v, want %v", path, got, mode)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("%s: owner %d, want %d", path, got, uid)
	}
}

// unitEnvironment is the environment systemd gives ExecStart: the unit's Environment= lines,
// then the settings of its EnvironmentFiles.
func unitEnvironment(t *testing.T, root, unit string) []string {
	t.Helper()
	var env, files []string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "Environment="); ok {
			env = append(env, v)
		}
		if f, ok := strings.CutPrefix(line, "EnvironmentFile=-"); ok {
			files = append(files, f)
		}
	}
	// A file's settings override Environment=, as in systemd; the last of a key wins in exec.
	for _, f := range files {
		for _, s := range strings.Split(read(t, filepath.Join(root, f)), "\n") {
			if s = strings.TrimSpace(s); s != "" && !strings.HasPrefix(s, "#") {
				env = append(env, s)
			}
		}
	}
	return env
}

// startInChroot runs the unit's ExecStart inside root as the meshd user with exactly env, as
// systemd would.
func startInChroot(t *testing.T, root string, env []string) *meshdtest.Process {
	t.Helper()
	return start(t, meshdtest.Options{Prefix: []string{"chroot", "--userspec=meshd:meshd", root}, Binary: "/usr/bin/meshd", Environ: env})
}

// start starts meshd as o says and waits for it to listen.
func start(t *testing.T, o meshdtest.Options) *meshdtest.Process {
	t.Helper()
	o.StartTimeout = 2 * time.Minute
	p, err := meshdtest.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

// stop sends SIGTERM and expects a clean exit.
func stop(t *testing.T, p *meshdtest.Process) {
	t.Helper()
	if err := p.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
}

// post runs a GraphQL document with the editor's key and returns its data.
func post(t *testing.T, p *meshdtest.Process, query string, vars map[string]any) map[string]any {
	t.Helper()
	data, err := p.Post(context.Background(), query, vars, "x-api-key", apiKey)
	if err != nil || data == nil {
		t.Fatalf("%s: %v %v", query, err, data)
	}
	return data
}

// lesson leaves a group behind for the upgrade to find, and returns its domain and id.
func lesson(t *testing.T, p *meshdtest.Process) (domain, group string) {
	t.Helper()
	domain = post(t, p, `mutation { createDomain }`, nil)["createDomain"].(string)
	g := post(t, p, `mutation($d: String!) { createGroup(name: "upgrade", hostId: "teacher", domain: $d) { id } }`, map[string]any{"d": domain})
	return domain, g["createGroup"].(map[string]any)["id"].(string)
}

// runClient runs the editor's SDK, aws-appsync, through the real-client tests against p.
func runClient(t *testing.T, node, dir string, p *meshdtest.Process) {
	t.Helper()
	cmd := exec.Command(node, "--test", "--test-force-exit", "--test-reporter=spec", "appsync.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MESHD_HTTP_URL="+p.URL(), "MESHD_API_KEY="+apiKey, "NO_COLOR=1")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the real client against the installed meshd: %v\n%s", err, out)
	}
}

// errMade tells that debianImage's channel reports a root it has just made.
var errMade = errors.New("made")

// debianImage returns the cached Debian root's tar file (in the user's cache directory, keyed by
// suite and architecture) and a channel that reports when it exists: nil at once when it was
// cached, errMade after debootstrap has made it in the background, or debootstrap's error.
func debianImage(t *testing.T, debootstrapTool string) (string, chan error) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(cache, "meshd", fmt.Sprintf("debian-%s-%s.tar", suite, runtime.GOARCH))
	made := make(chan error, 1)
	if _, err := os.Stat(image); err == nil {
		made <- nil
		return image, made
	}
	start, done := time.Now(), make(chan struct{})
	go func() {
		defer close(done)
		err := debootstrap(debootstrapTool, image)
		if err == nil {
			err = errMade
		}
		made <- err
	}()
	// A test that fails before it needs the root still leaves no debootstrap running.
	t.Cleanup(func() { <-done })
	t.Logf("debootstrap %s started at %s: no cached root in %s", suite, start.Format(time.TimeOnly), image)
	return image, made
}

// debianRoot unpacks image into a temporary directory and mounts /proc and /dev in it.
func debianRoot(t *testing.T, image string) string {
	t.Helper()
	root := t.TempDir()
	if out, err := exec.Command("tar", "-C", root, "-xpf", image).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", image, err, out)
	}
	for _, m := range [][]string{{"-t", "proc", "proc", filepath.Join(root, "proc")}, {"--bind", "/dev", filepath.Join(root, "dev")}} {
		if out, err := exec.Command("mount", m...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v\n%s", m, err, out)
		}
		target := m[len(m)-1]
		t.Cleanup(func() {
			if out, err := exec.Command("umount", "-l", target).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v\n%s", target, err, out)
			}
		})
	}
	return root
}

// debootstrap makes a minimal Debian root and writes it to image as a tar file.
func debootstrap(tool, image string) error {
	dir := filepath.Join(filepath.Dir(image), "debootstrap-"+strconv.Itoa(os.Getpid()))
	debs := filepath.Join(filepath.Dir(image), "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(tool, "--variant=minbase", "--cache-dir="+debs, suite, dir, "http://deb.debian.org/debian")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("debootstrap %s: %w\n%s", suite, err, out)
	}
	partial := image + ".partial"
	if out, err := exec.Command("tar", "-C", dir, "-cf", partial, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar the Debian root: %w\n%s", err, out)
	}
	return os.Rename(partial, image)
}

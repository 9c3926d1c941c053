// Package realclient gives tests the real client libraries of the editor — aws-appsync 4.1.10
// and aws-amplify 6, in the Node project gql/testdata/node — installed and ready to run.
package realclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// APIKey is a key for meshd's -api-keys that the real clients are configured with. The runs of
// '~' and '?' put both '+' and '/' into the standard-base64 header query parameter that
// aws-appsync-subscription-link 2.4.3 sends without percent-encoding, whatever the alignment.
const APIKey = "da2-meshd~~~~~~realclient??????test"

// installTimeout bounds one npm ci.
const installTimeout = 8 * time.Minute

// Setup finds node (20.14 or later, for node --test --test-force-exit) and npm, installs the
// Node project with npm ci when node_modules is missing or older than package-lock.json, and
// returns node's path and the project's directory. The install holds a lock on the directory,
// so packages tested in parallel never run npm ci at once. Without node or npm it fails the
// test rather than skip it: nothing else shows that the real editor can talk to meshd.
func Setup(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: this test drives the editor's client libraries from Node (install Node.js 20.14 or later and npm)")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	if v := strings.TrimSpace(string(out)); !atLeast(v, 20, 14) {
		t.Fatalf("node %s is too old: this test needs Node.js 20.14 or later (node --test --test-force-exit)", v)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is not installed: this test installs the editor's client libraries with npm ci")
	}
	dir = Dir()
	if err := install(npm, dir); err != nil {
		t.Fatal(err)
	}
	return node, dir
}

// Dir is the absolute path of the Node project, wherever the calling test runs.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "node")
}

// install runs npm ci in dir unless node_modules is current. npm writes
// node_modules/.package-lock.json at the end of every install, so its time says when the tree
// was last installed.
func install(npm, dir string) error {
	lockDir, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open the Node project: %w", err)
	}
	defer lockDir.Close()
	if err := syscall.Flock(int(lockDir.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lockDir.Fd()), syscall.LOCK_UN)
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("the Node project's lock file: %w", err)
	}
	if stamp, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !stamp.ModTime().Before(lock.ModTime()) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		if len(out) > 4000 {
			out = out[len(out)-4000:]
		}
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// atLeast reports whether a "vMAJOR.MINOR.PATCH" version is at least major.minor.
func atLeast(version string, major, minor int) bool {
	var ma, mi, pa int
	if _, err := fmt.Sscanf(version, "v%d.%d.%d", &ma, &mi, &pa); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// nodeLimit bounds one node --test run of the real-client test files.
const nodeLimit = 4 * time.Minute

// Run runs node --test on files of the Node project in dir, with env added to the
// environment and its output streamed into the test log, and fails the test if they fail or
// outlast nodeLimit.
func Run(t testing.TB, node, dir string, env []string, files ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeLimit)
	defer cancel()
	// --test-force-exit: both libraries leave their 15 s connection_init timer running after the
	// ack (checkAckOk in aws-appsync-subscription-link, the handshake timeout in Amplify), which
	// keeps a finished test file alive for up to 15 s more; the tests close their clients.
	args := append([]string{"--test", "--test-force-exit", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), "NO_COLOR=1")
	start := time.Now()
	err := Stream(t, cmd)
	t.Logf("node --test %s took %s", strings.Join(files, " "), time.Since(start).Round(time.Millisecond))
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node --test did not finish within %s: %v", nodeLimit, err)
	case err != nil:
		t.Fatalf("node --test: %v (the real client libraries failed against meshd; see the log above)", err)
	}
}

// Stream runs cmd with its output streamed line by line into the test log.
func Stream(t testing.TB, cmd *exec.Cmd) error {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// node --test runs each file in a child process; if the parent is killed on timeout, a
	// child still holding the pipe must not keep Wait from returning.
	cmd.WaitDelay = 10 * time.Second
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if line := strings.TrimRight(sc.Text(), " \r"); line != "" {
				t.Log(line)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	return err
}

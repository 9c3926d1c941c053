// Package apttest gives tests the programs they need from Debian's packages (chromium,
// qemu-user-static, debootstrap, lintian), installing a missing one with apt-get, so that the
// test command passes on a fresh Debian machine. Where that cannot work — not root, or no
// apt-get — the test is skipped with one line saying why, and the rest of the suite runs.
package apttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// installTimeout bounds one apt-get run.
const installTimeout = 10 * time.Minute

// mu keeps the tests of one package from running apt-get at once; apt-get's own lock
// (DPkg::Lock::Timeout) orders the packages tested in parallel.
var mu sync.Mutex

// Tool returns the path of program (a name looked up on PATH, or an absolute path), installing
// Debian's package pkg when it is missing.
func Tool(t testing.TB, program, pkg string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	Require(t, pkg)
	if err := install(pkg); err != nil {
		t.Fatal(err)
	}
	p, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("apt-get installed %s but %s is missing", pkg, program)
	}
	return p
}

// Require skips the test, saying why in one line, unless it runs as root on a system with
// apt-get: what needs names the test's need (a package to install, a chroot).
func Require(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root to install or use %s (run the test command as root on Debian)", what)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skipf("needs Debian's apt-get for %s (run the test command on Debian)", what)
	}
}

func install(pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	for _, args := range [][]string{
		{"-o", "DPkg::Lock::Timeout=600", "update"},
		{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends", pkg},
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			if len(out) > 2000 {
				out = out[len(out)-2000:]
			}
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

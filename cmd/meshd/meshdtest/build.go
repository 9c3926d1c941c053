// Package meshdtest runs meshd as a real process for tests, the load generator and the soak:
// it builds the binary, starts it, waits for the line that says it listens, and signals, kills
// and restarts it. Nothing in it fails a test: every function returns an error, so commands
// use it as well as tests.
package meshdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Package is the import path of the command that Build compiles.
const Package = "github.com/smalruby/meshd/cmd/meshd"

// Binary is a meshd executable Build compiled into a directory of its own.
type Binary struct {
	// Path is the executable.
	Path string
}

// Build compiles meshd into a new temporary directory with the go command's build flags
// (-race, -trimpath) and env added to the go command's environment (GOOS, GOARCH, GOARM for a
// cross build). It must run inside the meshd module. Remove deletes what it wrote.
func Build(ctx context.Context, flags, env []string) (*Binary, error) {
	dir, err := os.MkdirTemp("", "meshdtest-bin")
	if err != nil {
		return nil, fmt.Errorf("build meshd: %w", err)
	}
	b := &Binary{Path: filepath.Join(dir, "meshd")}
	args := append(append([]string{"build"}, flags...), "-o", b.Path, Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	return b, nil
}

// Remove deletes the binary and its directory.
func (b *Binary) Remove() error {
	return os.RemoveAll(filepath.Dir(b.Path))
}

var shared struct {
	once sync.Once
	bin  *Binary
	err  error
}

// Shared returns meshd built once per test binary, with the race detector when the test binary
// has it. Main removes it when the tests end.
func Shared() (string, error) {
	shared.once.Do(func() {
		var flags []string
		if raceEnabled {
			flags = []string{"-race"}
		}
		shared.bin, shared.err = Build(context.Background(), flags, nil)
	})
	if shared.err != nil {
		return "", shared.err
	}
	return shared.bin.Path, nil
}

// Main runs a package's tests and removes the binary Shared built, then exits with the tests'
// status. Call it from TestMain of every package that starts meshd:
//
//	func TestMain(m *testing.M) { meshdtest.Main(m) }
func Main(m interface{ Run() int }) {
	os.Exit(run(m))
}

// run runs the tests, removes the binary Shared built, if it built one, and returns the exit
// status.
func run(m interface{ Run() int }) int {
	code := m.Run()
	if shared.bin != nil {
		if err := shared.bin.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "meshdtest:", err)
			code = max(code, 1)
		}
	}
	return code
}

package meshdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain checks that the binary the tests built is gone once they end.
func TestMain(m *testing.M) {
	code := run(m)
	if shared.bin != nil {
		if _, err := os.Stat(filepath.Dir(shared.bin.Path)); !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "the built meshd outlived the tests: %s (%v)\n", shared.bin.Path, err)
			code = 1
		}
	}
	os.Exit(code)
}

func start(t *testing.T, o Options) *Process {
	t.Helper()
	o.Args = append([]string{"-listen-addr", "127.0.0.1:0", "-data-dir", t.TempDir()}, o.Args...)
	p, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

func createDomain(t *testing.T, p *Process) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := p.Post(ctx, `mutation { createDomain }`, nil)
	if err != nil {
		t.Fatalf("createDomain: %v\n%s", err, p.Logs())
	}
	return d["createDomain"].(string)
}

// TestProcessLifecycle starts meshd through a wrapper, posts to it, freezes, kills and
// restarts it on the same data directory, and stops it cleanly.
func TestProcessLifecycle(t *testing.T) {
	p := start(t, Options{Prefix: []string{"env"}, Env: []string{"MESH_DOMAIN_MODE=fixed"}})
	if !strings.Contains(p.Logs(), `msg="meshd listening"`) || p.Pid() <= 0 {
		t.Fatalf("pid %d, log:\n%s", p.Pid(), p.Logs())
	}
	domain := createDomain(t, p)
	ctx := context.Background()
	join := `mutation($d: String!) { joinGroup(groupId: "nope", domain: $d, nodeId: "x") { id } }`
	if _, err := p.Post(ctx, join, map[string]any{"d": domain}, "x-api-key", "any"); !isType(err, "GroupNotFound") {
		t.Fatalf("a join of a missing group answered %v", err)
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(ctx); err != nil { // kills the stopped process first
		t.Fatal(err)
	}
	if d := createDomain(t, p); d != domain {
		t.Fatalf("after the restart the domain is %q, was %q", d, domain)
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(time.Second); code != 0 || err != nil {
		t.Fatalf("exit %d %v", code, err)
	}
}

func isType(err error, typ string) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == typ
}

// TestStartFailures names what went wrong and carries the process's log.
func TestStartFailures(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"exits", Options{Args: []string{"-store", "redis"}}, "-store must be bbolt or memory"},
		{"never says it is ready", Options{Args: []string{"-listen-addr", "127.0.0.1:0", "-data-dir", t.TempDir()}, Ready: "never logged", StartTimeout: 5 * time.Second}, `did not log "never logged"`},
		{"no such binary", Options{Binary: filepath.Join(t.TempDir(), "none")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || p != nil {
				t.Fatalf("Start = %v, %v; want an error with %q", p, err, tt.want)
			}
		})
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// process is a server the generator started: meshd, the ceiling broadcaster or the nats-server
// reference. It is killed if the generator dies, so no server outlives a run.
type process struct {
	*meshdtest.Process
	name string
}

// startProcess runs path with args and env and waits until it logs "<ready> listening".
func startProcess(ctx context.Context, name, ready, path string, args, env []string) (*process, error) {
	p, err := meshdtest.Start(ctx, meshdtest.Options{Binary: path, Args: args, Env: env, Ready: ready + " listening"})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &process{Process: p, name: name}, nil
}

// stopTimeout is how long a server may take to shut down after SIGTERM before it is killed.
const stopTimeout = 15 * time.Second

// stop asks the server to shut down and kills it if it does not within stopTimeout.
func (p *process) stop() error {
	if err := p.Stop(stopTimeout); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// lastLines is the end of the server's log, for error reports.
func (p *process) lastLines() string {
	lines := strings.Split(strings.TrimSuffix(p.Logs(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// moduleRoot finds the meshd module the generator runs in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find the module: run the generator inside the meshd module (go run ./bench)")
	}
	return filepath.Dir(gomod), nil
}

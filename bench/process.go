package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// listening matches the line meshd (and the ceiling) log once they accept connections.
var listening = regexp.MustCompile(`msg="(?:meshd|ceiling|natsref) listening" addr=(\S+)`)

// process is a server the generator started: meshd or the ceiling broadcaster.
type process struct {
	name   string
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	exited chan struct{}
	err    error // of Wait, once exited is closed

	mu   sync.Mutex
	tail []string // last lines of its stderr, for error reports
}

// startTimeout bounds how long a server may take to log that it listens.
const startTimeout = 60 * time.Second

// startProcess runs path with args and env and waits for its listening line. The process is
// killed if the generator dies (Pdeathsig), so no server outlives a run.
func startProcess(ctx context.Context, name, path string, args, env []string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go p.readStderr(stderr, addr)
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case p.addr = <-addr:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v): %s", name, p.err, p.lastLines())
	case <-timer.C:
		err = fmt.Errorf("%s did not log that it listens within %v: %s", name, startTimeout, p.lastLines())
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stop()
	return nil, err
}

// readStderr keeps the last lines of the server's log and reports its address once; it ends
// when the process closes stderr.
func (p *process) readStderr(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !found {
			if m := listening.FindStringSubmatch(line); m != nil {
				found = true
				addr <- m[1]
			}
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 20 {
			p.tail = p.tail[len(p.tail)-20:]
		}
		p.mu.Unlock()
	}
}

func (p *process) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop asks the server to shut down (SIGTERM) and kills it if it has not exited after 15 s.
func (p *process) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s ignored SIGTERM for 15 s and was killed", p.name)
	}
	if p.err != nil {
		return fmt.Errorf("%s did not shut down cleanly: %w: %s", p.name, p.err, p.lastLines())
	}
	return nil
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

// buildMeshd compiles the real server of the module at root into dir.
func buildMeshd(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "meshd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meshd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/meshd: %w\n%s", err, out)
	}
	return bin, nil
}

package meshdtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say how to run one process.
type Options struct {
	// Binary is the executable; empty runs the one Shared builds.
	Binary string
	// Prefix runs the binary through another command: an emulator (qemu-arm) or a wrapper
	// (prlimit --nofile=1024 --).
	Prefix []string
	// Args are the binary's arguments.
	Args []string
	// Environ is the environment Env is added to; nil is this process's.
	Environ []string
	// Env is added to the environment, after MESH_LOG_FORMAT=text.
	Env []string
	// Ready is the message of the log line that says the process accepts connections and
	// carries its address (addr=host:port); empty is meshd's "meshd listening".
	Ready string
	// StartTimeout bounds the wait for that line; zero is a minute.
	StartTimeout time.Duration
}

// maxLog bounds the log a process keeps; beyond it the oldest half is dropped.
const maxLog = 8 << 20

// Process is a started process. Restart replaces the running one under the same Process.
type Process struct {
	opts Options

	mu     sync.Mutex
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	err    error // of Wait, once exited is closed
	log    strings.Builder
}

// Start runs a process and waits until it logs that it listens. A process that exits first, or
// does not say so within the timeout, is an error carrying what it logged.
func Start(ctx context.Context, o Options) (*Process, error) {
	p := &Process{opts: o}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Process) start(ctx context.Context) error {
	o := p.opts
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = Shared(); err != nil {
			return err
		}
	}
	ready := o.Ready
	if ready == "" {
		ready = "meshd listening"
	}
	listening := regexp.MustCompile(`msg="` + regexp.QuoteMeta(ready) + `" addr=(\S+)`)
	argv := append(append(append([]string{}, o.Prefix...), bin), o.Args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	environ := o.Environ
	if environ == nil {
		environ = os.Environ()
	}
	cmd.Env = append(append(slices.Clip(environ), "MESH_LOG_FORMAT=text"), o.Env...)
	cmd.SysProcAttr = procAttr()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.addr, p.exited, p.err = cmd, "", exited, nil
	p.log.Reset()
	p.mu.Unlock()
	addr := make(chan string, 1)
	go func() {
		p.read(pipe, listening, addr)
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-addr:
		p.mu.Lock()
		p.addr = a
		p.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("%s exited before it listened (%v):\n%s", argv[0], p.exitErr(), p.Logs())
	case <-timer.C:
		err = fmt.Errorf("%s did not log %q within %v:\n%s", argv[0], ready, timeout, p.Logs())
	case <-ctx.Done():
		err = fmt.Errorf("start %s: %w", argv[0], ctx.Err())
	}
	p.Kill()
	return err
}

// read keeps the process's stderr and reports its address once; it returns when the process
// closes stderr.
func (p *Process) read(r io.Reader, listening *regexp.Regexp, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		if p.log.Len()+len(line) > maxLog {
			rest := p.log.String()[p.log.Len()/2:]
			p.log.Reset()
			p.log.WriteString(rest)
		}
		p.log.WriteString(line + "\n")
		p.mu.Unlock()
		// After the line is in the log: whoever Start returns to finds it there.
		if m := listening.FindStringSubmatch(line); m != nil && !found {
			found = true
			addr <- m[1]
		}
	}
	io.Copy(io.Discard, r) // a line longer than the scanner's buffer must not block the process
}

// At is a server meshdtest did not start that listens on addr (host:port), such as a load
// balancer in front of meshd processes: only Addr, URL and Post apply to it.
func At(addr string) *Process { return &Process{addr: addr} }

// Addr is the address the running process listens on (host:port).
func (p *Process) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// URL is the running meshd's GraphQL endpoint, http://host:port/graphql.
func (p *Process) URL() string { return "http://" + p.Addr() + "/graphql" }

// Pid is the running process's id.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Logs returns what the running process (the last one, once it exited) wrote to stderr.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Exited is closed when the running process has exited.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Signal sends sig (SIGTERM, SIGHUP, SIGSTOP, SIGCONT…) to the running process.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}

// Kill ends the running process with SIGKILL, as a crash would (waking it first if it was
// stopped), and waits until it has exited.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.Exited()
	return nil
}

// Wait waits until the running process exits, at most d, and returns its exit code; a process
// killed by a signal has -1.
func (p *Process) Wait(d time.Duration) (int, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.Exited():
	case <-timer.C:
		return -1, fmt.Errorf("did not exit within %v:\n%s", d, p.Logs())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.ProcessState.ExitCode(), nil
}

// Stop asks the running process to shut down with SIGTERM and waits up to d for it; one that
// takes longer is killed. Anything but a clean exit is an error carrying its log.
func (p *Process) Stop(d time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if _, err := p.Wait(d); err != nil {
		p.Kill()
		return fmt.Errorf("ignored SIGTERM for %v and was killed: %w", d, err)
	}
	if err := p.exitErr(); err != nil {
		return fmt.Errorf("did not shut down cleanly: %w:\n%s", err, p.Logs())
	}
	return nil
}

// Restart kills the running process and starts it again with the same options, waiting until
// it listens; its address may change.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Kill(); err != nil {
		return err
	}
	return p.start(ctx)
}

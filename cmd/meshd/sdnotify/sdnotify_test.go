package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// env is a getenv of m.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotifierWithoutSystemd(t *testing.T) {
	n, err := New(env(nil))
	if err != nil || n.Notify("READY=1") != nil || n.Close() != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
}

func TestNotifierAbstractSocketAndWatchdogPID(t *testing.T) {
	name := fmt.Sprintf("meshd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "\x00" + name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	for _, tt := range []struct {
		pid  string
		want time.Duration
	}{
		{"", 4 * time.Second},
		{strconv.Itoa(os.Getpid()), 4 * time.Second},
		{"1", 0}, // the watchdog is another process's
	} {
		n, err := New(env(map[string]string{"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": tt.pid}))
		if err != nil {
			t.Fatal(err)
		}
		if n.watchdog != tt.want {
			t.Errorf("WATCHDOG_PID=%q: watchdog %v, want %v", tt.pid, n.watchdog, tt.want)
		}
		if err := n.Notify("STATUS=test " + tt.pid); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "STATUS=test "+tt.pid {
			t.Errorf("received %q, %v", buf[:n], err)
		}
		n.Close()
	}
	if _, err := New(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none")})); err == nil {
		t.Error("a missing notify socket is not reported")
	}
}

// The watchdog is pinged only while alive says the broker is well: a stalled commit path
// stops the pings, so that systemd restarts meshd.
func TestWatchdogWaitsForAHealthyBroker(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, err := New(env(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "2000"}))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	health := make(chan error)
	n.KeepAlive(ctx, slog.New(slog.DiscardHandler), func() error {
		select {
		case err := <-health:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	// A tick's ping, if any, is sent before the next tick asks alive again.
	stalled := errors.New("store: a store commit has been running for 11s")
	health <- stalled
	health <- stalled
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("the watchdog was pinged while stalled: %q", buf[:n])
	}
	health <- nil
	health <- nil
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "WATCHDOG=1" {
		t.Fatalf("after the stall cleared: %q, %v", buf[:n], err)
	}
}

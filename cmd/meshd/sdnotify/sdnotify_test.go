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

// setenv sets the variables of kv (name, value, …) for the test, which then reads them with
// os.Getenv.
func setenv(t *testing.T, kv ...string) {
	for _, name := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		t.Setenv(name, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	setenv(t)
	n, err := New(os.Getenv)
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
		setenv(t, "NOTIFY_SOCKET", "@"+name, "WATCHDOG_USEC", "4000000", "WATCHDOG_PID", tt.pid)
		n, err := New(os.Getenv)
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
	setenv(t, "NOTIFY_SOCKET", filepath.Join(t.TempDir(), "none"))
	if _, err := New(os.Getenv); err == nil {
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
	setenv(t, "NOTIFY_SOCKET", sock, "WATCHDOG_USEC", "2000")
	n, err := New(os.Getenv)
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

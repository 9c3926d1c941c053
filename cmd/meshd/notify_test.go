package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket listens on a real unixgram socket as systemd does and hands on what arrives.
func notifySocket(t *testing.T, name string) <-chan string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	return got
}

// next waits for the next datagram, failing after a generous bound.
func next(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no datagram from meshd")
		return ""
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	n, err := newNotifier(env(nil))
	if err != nil || n.notify("READY=1") != nil || n.Close() != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
}

func TestNotifierAbstractSocketAndWatchdogPID(t *testing.T) {
	name := fmt.Sprintf("meshd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	got := notifySocket(t, "\x00"+name)
	for _, tt := range []struct {
		pid  string
		want time.Duration
	}{
		{"", 4 * time.Second},
		{strconv.Itoa(os.Getpid()), 4 * time.Second},
		{"1", 0}, // the watchdog is another process's
	} {
		n, err := newNotifier(env(map[string]string{"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": tt.pid}))
		if err != nil {
			t.Fatal(err)
		}
		if n.watchdog != tt.want {
			t.Errorf("WATCHDOG_PID=%q: watchdog %v, want %v", tt.pid, n.watchdog, tt.want)
		}
		if err := n.notify("STATUS=test " + tt.pid); err != nil {
			t.Fatal(err)
		}
		if m := next(t, got); m != "STATUS=test "+tt.pid {
			t.Errorf("received %q", m)
		}
		n.Close()
	}
	if _, err := newNotifier(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none")})); err == nil {
		t.Error("a missing notify socket is not reported")
	}
}

// TestBinaryNotifiesSystemd runs meshd as systemd's Type=notify with WatchdogSec would: it
// says READY once it listens, pings the watchdog, and says STOPPING when told to stop.
func TestBinaryNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	got := notifySocket(t, sock)
	p := startMeshdEnv(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"}, "-store", "memory")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://"), "/graphql")
	if m := next(t, got); m != "READY=1\nSTATUS=serving on "+addr {
		t.Fatalf("first datagram %q, want READY with the address", m)
	}
	if m := next(t, got); m != "WATCHDOG=1" {
		t.Fatalf("datagram %q, want WATCHDOG=1", m)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Logs())
	}
	// Everything meshd sent is in the socket by now: watchdog pings, then STOPPING.
	for m := next(t, got); m != "STOPPING=1"; m = next(t, got) {
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected datagram %q", m)
		}
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
	n, err := newNotifier(env(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "2000"}))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	health := make(chan error)
	n.keepAlive(ctx, slog.New(slog.DiscardHandler), func() error {
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

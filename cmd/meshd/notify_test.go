package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smalruby/meshd/broker/brokertest"
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

// TestBinaryNotifiesSystemd runs meshd as systemd's Type=notify with WatchdogSec would: it
// says READY once it listens, pings the watchdog, and says STOPPING when told to stop.
func TestBinaryNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	got := notifySocket(t, sock)
	p := startMeshdEnv(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"}, "-store", "memory")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://"), "/graphql")
	if m := brokertest.Receive(t, got); m != "READY=1\nSTATUS=serving on "+addr {
		t.Fatalf("first datagram %q, want READY with the address", m)
	}
	if m := brokertest.Receive(t, got); m != "WATCHDOG=1" {
		t.Fatalf("datagram %q, want WATCHDOG=1", m)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Logs())
	}
	// Everything meshd sent is in the socket by now: watchdog pings, then STOPPING.
	for m := brokertest.Receive(t, got); m != "STOPPING=1"; m = brokertest.Receive(t, got) {
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected datagram %q", m)
		}
	}
}

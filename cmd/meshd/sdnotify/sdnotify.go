// Package sdnotify holds meshd's side of systemd's readiness protocol and watchdog
// (sd_notify(3)): READY, STATUS and STOPPING, and WATCHDOG pings while meshd is well.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier speaks systemd's readiness protocol (sd_notify(3)): newline-separated KEY=VALUE
// lines, one datagram each, sent to the unix socket named by $NOTIFY_SOCKET. Without that
// variable meshd is not run by systemd with Type=notify and every call does nothing.
type Notifier struct {
	conn *net.UnixConn
	// watchdog is how often systemd wants WATCHDOG=1 (WatchdogSec=); 0 when it does not.
	watchdog time.Duration
}

// New connects to the notify socket of getenv's NOTIFY_SOCKET, and reads the watchdog
// interval of WATCHDOG_USEC when WATCHDOG_PID, if set, is this process.
func New(getenv func(string) string) (*Notifier, error) {
	n := &Notifier{}
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return n, nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("systemd notify socket: %w", err)
	}
	n.conn = conn
	if pid := getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
		if usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n, nil
}

// Notify sends one state change, such as "READY=1".
func (n *Notifier) Notify(state string) error {
	if n.conn == nil {
		return nil
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd notify: %w", err)
	}
	return nil
}

// KeepAlive sends WATCHDOG=1 at half the watchdog interval until ctx ends, as long as alive
// returns nil within it; a meshd that hangs, or whose alive reports an error, stops pinging
// and systemd restarts it.
func (n *Notifier) KeepAlive(ctx context.Context, log *slog.Logger, alive func() error) {
	if n.conn == nil || n.watchdog == 0 {
		return
	}
	go func() {
		t := time.NewTicker(n.watchdog / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := alive(); err != nil {
					log.Error("systemd watchdog not pinged: systemd restarts meshd unless this clears", "err", err)
					continue
				}
				if err := n.Notify("WATCHDOG=1"); err != nil && !errors.Is(err, net.ErrClosed) {
					log.Warn("systemd watchdog", "err", err)
				}
			}
		}
	}()
}

// Close closes the socket.
func (n *Notifier) Close() error {
	if n.conn == nil {
		return nil
	}
	return n.conn.Close()
}

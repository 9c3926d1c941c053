// Package bus carries published group messages to subscribers over an embedded NATS server:
// one subject per (domain, group), so that more meshd processes can later share it through NATS
// routes without new code.
package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configures the embedded NATS server.
type Options struct {
	// ListenAddr, when set (e.g. "127.0.0.1:4222"), also opens a NATS client port for other
	// processes; empty keeps the server in-process only.
	ListenAddr string
	// Token is the secret NATS clients of ListenAddr must present; New refuses a ListenAddr
	// without one of at least MinTokenLength characters, because the port carries every
	// group's messages.
	Token string
	// MaxPending bounds the bytes buffered for one subscription before NATS drops its messages
	// as a slow consumer; 0 means 64 MiB.
	MaxPending int
	// Logger receives the bus's errors, slow-consumer drops among them, at most one line per
	// dropLogInterval; slog.Default() when nil.
	Logger *slog.Logger
}

// MinTokenLength is the shortest Token New accepts: a short one is guessed.
const MinTokenLength = 16

// maxPayload is the largest message the bus carries: far above the biggest allowed mutation.
const maxPayload = 8 << 20

// Bus publishes and delivers group messages.
type Bus struct {
	srv        *server.Server
	nc         *nats.Conn
	maxPending int
	log        *slog.Logger
	errLog     logLimit

	mu      sync.Mutex
	subs    map[*nats.Subscription]struct{}
	retired uint64 // dropped messages of subscriptions that have ended
}

// Subscription is one subscriber of one group's messages.
type Subscription struct {
	b   *Bus
	sub *nats.Subscription
}

// New starts the embedded server and connects to it in-process.
func New(opts Options) (*Bus, error) {
	sopts := &server.Options{
		ServerName: "meshd",
		DontListen: opts.ListenAddr == "",
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: maxPayload,
		MaxPending: 4 * maxPayload,
	}
	if opts.ListenAddr != "" {
		if len(opts.Token) < MinTokenLength {
			return nil, fmt.Errorf("start embedded nats: a listen address needs a token of at least %d characters", MinTokenLength)
		}
		sopts.Authorization = opts.Token
		host, port, err := net.SplitHostPort(opts.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen address %q: %w", opts.ListenAddr, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen port %q: %w", port, err)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		sopts.Host, sopts.Port = host, p
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start embedded nats: not ready within 10s")
	}
	b := &Bus{srv: srv, maxPending: opts.MaxPending, log: opts.Logger, errLog: logLimit{every: dropLogInterval},
		subs: make(map[*nats.Subscription]struct{})}
	if b.maxPending <= 0 {
		b.maxPending = 64 << 20
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("meshd"), nats.NoReconnect(), nats.Token(opts.Token),
		nats.ErrorHandler(b.asyncError))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	b.nc = nc
	return b, nil
}

// asyncError logs an error NATS reports outside any call, such as a subscription that fell
// so far behind that NATS dropped its messages (counted by Dropped), rate-limited.
func (b *Bus) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	ok, held := b.errLog.allow(time.Now())
	if !ok {
		return
	}
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	if errors.Is(err, nats.ErrSlowConsumer) {
		b.log.Warn("bus slow consumer: messages dropped", "subject", subject, "dropped_total", b.Dropped(), "lines_held_back", held)
		return
	}
	b.log.Error("bus error", "subject", subject, "err", err, "lines_held_back", held)
}

// ClientURL is the address other NATS clients reach the server at, or "" when it only runs
// in-process.
func (b *Bus) ClientURL() string {
	if addr := b.srv.Addr(); addr != nil {
		return "nats://" + addr.String()
	}
	return ""
}

// Publish sends data to every subscriber of the group. Messages published from one goroutine,
// or serialised by the caller, are delivered in that order.
func (b *Bus) Publish(domain, groupID string, data []byte) error {
	if err := b.nc.Publish(Subject(domain, groupID), data); err != nil {
		return fmt.Errorf("publish to %s@%s: %w", groupID, domain, err)
	}
	return nil
}

// Subscribe calls fn with every message of the group, in publish order, from one goroutine.
func (b *Bus) Subscribe(domain, groupID string, fn func(data []byte)) (*Subscription, error) {
	sub, err := b.nc.Subscribe(Subject(domain, groupID), func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s@%s: %w", groupID, domain, err)
	}
	if err := sub.SetPendingLimits(-1, b.maxPending); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to %s@%s: %w", groupID, domain, err)
	}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	return &Subscription{b: b, sub: sub}, nil
}

// Unsubscribe stops delivery to the subscription. A call of fn already running may finish
// after it returns.
func (s *Subscription) Unsubscribe() error {
	s.b.mu.Lock()
	if _, ok := s.b.subs[s.sub]; ok {
		if n, err := s.sub.Dropped(); err == nil {
			s.b.retired += uint64(n)
		}
		delete(s.b.subs, s.sub)
	}
	s.b.mu.Unlock()
	if err := s.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

// Healthy reports whether the server runs and the broker's connection to it is up.
func (b *Bus) Healthy() bool {
	return b.srv.Running() && b.nc.IsConnected()
}

// Dropped counts the messages NATS dropped because a subscriber fell too far behind, over all
// subscriptions, past and present.
func (b *Bus) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.retired
	for sub := range b.subs {
		if d, err := sub.Dropped(); err == nil {
			n += uint64(d)
		}
	}
	return n
}

// Close disconnects and shuts the server down; it may be called more than once.
func (b *Bus) Close() {
	b.nc.Close()
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

package bus_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/broker/bus"
)

// validSubject fails unless every token after the prefix is a non-empty [A-Za-z0-9_-] run.
func validSubject(t testing.TB, subject string) {
	t.Helper()
	toks := strings.Split(subject, ".")
	if len(toks) != 4 || toks[0] != "mesh" || toks[1] != "g" {
		t.Fatalf("subject %q does not have 4 tokens", subject)
	}
	for _, tok := range toks[2:] {
		if tok == "" {
			t.Fatalf("empty token in %q", subject)
		}
		for _, c := range tok {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				t.Fatalf("token %q of %q has %q", tok, subject, c)
			}
		}
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		name, domain, group, want string
	}{
		{"hex domain and uuid", "7aff1acb", "0b6f3a52-8f7e-4c1d-a2b3-c4d5e6f70812", "mesh.g.7aff1acb.0b6f3a52-8f7e-4c1d-a2b3-c4d5e6f70812"},
		{"empty", "", "", "mesh.g._._"},
		{"japanese", "教室", "g", ""},
		{"emoji", "🎉", "g", ""},
		{"dots and wildcards", "a.b", "*>", ""},
		{"white space and NUL", " \x00\t", "g", ""},
		{"leading underscore", "_x", "g", ""},
		{"upper case", "ABC", "g", ""},
		{"long", strings.Repeat("あ", 256), strings.Repeat("x", 256), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bus.Subject(tt.domain, tt.group)
			validSubject(t, s)
			if tt.want != "" && s != tt.want {
				t.Fatalf("Subject = %q, want %q", s, tt.want)
			}
			toks := strings.Split(s, ".")
			d, err1 := bus.DecodeToken(toks[2])
			g, err2 := bus.DecodeToken(toks[3])
			if err1 != nil || err2 != nil || d != tt.domain || g != tt.group {
				t.Fatalf("round trip = %q %q (%v %v)", d, g, err1, err2)
			}
		})
	}
	seen := map[string]string{}
	for _, d := range []string{"a.b", "a_b", "a-b", "ab", "_YQ", "a", "A"} {
		s := bus.Subject(d, "g")
		if prev, ok := seen[s]; ok {
			t.Fatalf("%q and %q share subject %q", prev, d, s)
		}
		seen[s] = d
	}
}

func newBus(t *testing.T, opts bus.Options) *bus.Bus {
	t.Helper()
	b, err := bus.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// text is the codec of the tests' messages: strings, as their bytes.
func text(s string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(s), nil } }

func decodeText(data []byte) (any, error) { return string(data), nil }

// publish publishes s, encoded as its bytes should a client outside the process listen.
func publish(b *bus.Bus, domain, group, s string) error {
	return b.Publish(domain, group, s, text(s))
}

// subscribe subscribes with the text codec and sends what arrives to ch.
func subscribe(t *testing.T, b *bus.Bus, domain, group string, ch chan<- string) *bus.Subscription {
	t.Helper()
	sub, err := b.Subscribe(domain, group, decodeText, func(v any) { ch <- v.(string) })
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func TestOrderAndIsolation(t *testing.T) {
	b := newBus(t, bus.Options{})
	const n = 10000
	a1, a2, other := make(chan string, n), make(chan string, n), make(chan string, n)
	for _, s := range []struct {
		domain, group string
		ch            chan string
	}{{"a.b", "g", a1}, {"a.b", "g", a2}, {"a_b", "g", other}} {
		subscribe(t, b, s.domain, s.group, s.ch)
	}
	for i := range n {
		if err := publish(b, "a.b", "g", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	publish(b, "a_b", "g", "other")
	for i := range n {
		if got := brokertest.Receive(t, a1); got != fmt.Sprint(i) {
			t.Fatalf("subscriber 1: message %d is %q", i, got)
		}
		if got := brokertest.Receive(t, a2); got != fmt.Sprint(i) {
			t.Fatalf("subscriber 2: message %d is %q", i, got)
		}
	}
	if got := brokertest.Receive(t, other); got != "other" {
		t.Fatalf("isolated group got %q", got)
	}
}

func TestUnsubscribeAndClose(t *testing.T) {
	b := newBus(t, bus.Options{})
	ch := make(chan string, 10)
	sub := subscribe(t, b, "d", "g", ch)
	publish(b, "d", "g", "1")
	brokertest.Receive(t, ch)
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	// A second subscriber proves later messages flowed while the first saw none.
	ch2 := make(chan string, 10)
	subscribe(t, b, "d", "g", ch2)
	publish(b, "d", "g", "2")
	brokertest.Receive(t, ch2)
	select {
	case m := <-ch:
		t.Fatalf("message after unsubscribe: %q", m)
	default:
	}
	if !b.Healthy() {
		t.Fatal("running bus not healthy")
	}
	b.Close()
	b.Close()
	if b.Healthy() {
		t.Fatal("closed bus healthy")
	}
	if err := publish(b, "d", "g", ""); err == nil {
		t.Fatal("publish after close succeeded")
	}
}

func TestListenAddr(t *testing.T) {
	for _, token := range []string{"", "s3cret", strings.Repeat("x", bus.MinTokenLength-1)} {
		if b, err := bus.New(bus.Options{ListenAddr: "127.0.0.1:0", Token: token}); err == nil {
			b.Close()
			t.Fatalf("a NATS port with the token %q was opened", token)
		}
	}
	const token = "bus-test-token-0123"
	b := newBus(t, bus.Options{ListenAddr: "127.0.0.1:0", Token: token})
	for _, opts := range [][]nats.Option{nil, {nats.Token("wrong")}} {
		if nc, err := nats.Connect(b.ClientURL(), append(opts, nats.NoReconnect())...); err == nil {
			nc.Close()
			t.Fatalf("a client with %d options connected without the token", len(opts))
		}
	}
	nc, err := nats.Connect(b.ClientURL(), nats.Token(token))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ch := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe(bus.Subject("教室", "g"), ch); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	local := make(chan string, 2)
	subscribe(t, b, "教室", "g", local)
	publish(b, "教室", "g", "over tcp")
	select {
	case m := <-ch:
		if string(m.Data) != "over tcp" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message over TCP")
	}
	// The process's own subscriber got the value once, not again through NATS, and gets what
	// the client outside publishes, decoded.
	if got := brokertest.Receive(t, local); got != "over tcp" {
		t.Fatalf("local subscriber got %q", got)
	}
	if err := nc.Publish(bus.Subject("教室", "g"), []byte("from outside")); err != nil {
		t.Fatal(err)
	}
	if got := brokertest.Receive(t, local); got != "from outside" {
		t.Fatalf("local subscriber got %q after the value published in the process", got)
	}
}

// A value published in the process reaches its subscribers without being encoded while no
// client outside the process is connected.
func TestNoEncodingInProcess(t *testing.T) {
	b := newBus(t, bus.Options{ListenAddr: "127.0.0.1:0", Token: "bus-test-token-0123"})
	ch := make(chan string, 1)
	subscribe(t, b, "d", "g", ch)
	encoded := 0
	if err := b.Publish("d", "g", "v", func() ([]byte, error) { encoded++; return []byte("v"), nil }); err != nil {
		t.Fatal(err)
	}
	if got := brokertest.Receive(t, ch); got != "v" || encoded != 0 {
		t.Fatalf("got %q, encoded %d times", got, encoded)
	}
}

func FuzzSubject(f *testing.F) {
	f.Add("7aff1acb", "g", "7aff1acb", "h")
	f.Add("", "_", "_", "")
	f.Add("a.b", "x", "a_b", "x")
	f.Fuzz(func(t *testing.T, d1, g1, d2, g2 string) {
		s1, s2 := bus.Subject(d1, g1), bus.Subject(d2, g2)
		validSubject(t, s1)
		toks := strings.Split(s1, ".")
		if d, err := bus.DecodeToken(toks[2]); err != nil || d != d1 {
			t.Fatalf("domain %q round trip = %q, %v", d1, d, err)
		}
		if g, err := bus.DecodeToken(toks[3]); err != nil || g != g1 {
			t.Fatalf("group %q round trip = %q, %v", g1, g, err)
		}
		if (d1 != d2 || g1 != g2) && s1 == s2 {
			t.Fatalf("(%q,%q) and (%q,%q) share %q", d1, g1, d2, g2, s1)
		}
	})
}

func BenchmarkSubject(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		bus.Subject("7aff1acb", "0b6f3a52-8f7e-4c1d-a2b3-c4d5e6f70812")
	}
}

func BenchmarkPublishDeliver(b *testing.B) {
	bs, err := bus.New(bus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	done := make(chan struct{}, 1)
	want := b.N
	got := 0
	bs.Subscribe("d", "g", decodeText, func(any) {
		got++
		if got == want {
			done <- struct{}{}
		}
	})
	msg := strings.Repeat("x", 512)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		publish(bs, "d", "g", msg)
	}
	<-done
}

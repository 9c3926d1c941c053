package console_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// The live view of a class of 80 pupils, every one of them changing a variable every second,
// costs the page at most 5 kB per update (one update a second) on the wire.
func TestStreamBytesAtEightyPupils(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	type pupil struct{ group, node string }
	var pupils []pupil
	for gi := range 3 {
		host := fmt.Sprintf("%032x", gi+1)
		g, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: host, HostID: host, Domain: "school", UseWebSocket: true})
		if err != nil {
			t.Fatal(err)
		}
		pupils = append(pupils, pupil{g.ID, host})
		for n := 1; len(pupils) < (gi+1)*80/3; n++ {
			node := fmt.Sprintf("%030x%02d", gi+1, n)
			if _, _, err := e.b.JoinGroup(ctx, g.ID, "school", node); err != nil {
				t.Fatal(err)
			}
			pupils = append(pupils, pupil{g.ID, node})
		}
	}
	report := func(round int) {
		for i, p := range pupils {
			data := []broker.Pair{{Key: "なまえ", Value: fmt.Sprintf("せいと%02d", i)}, {Key: "score", Value: fmt.Sprint(round*7 + i)}, {Key: "x", Value: fmt.Sprint((round * 13) % 240)}}
			if _, err := e.b.ReportData(p.group, "school", p.node, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	report(0)
	c := e.client(t)
	e.login(t, c)
	tr := c.Transport.(*http.Transport).Clone()
	tr.DisableCompression = true // count the bytes as they come over the wire
	c.Transport = tr
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", e.srv.URL+"/console/api/stream", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("stream encoding %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	wire := &countingReader{r: res.Body}
	gz, err := gzip.NewReader(wire)
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReaderSize(gz, 1<<20)
	next := func() int {
		for {
			line, err := lines.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			if strings.HasPrefix(line, "data: ") {
				return len(line)
			}
		}
	}
	const updates = 8
	first := next()
	start, raw := wire.n.Load(), 0
	for round := 1; round <= updates; round++ {
		report(round)
		raw += next()
	}
	perUpdate := float64(wire.n.Load()-start) / updates
	t.Logf("80 pupils: first status %d bytes, then %.0f bytes per update on the wire (%d uncompressed)", first, perUpdate, raw/updates)
	if perUpdate > 5000 {
		t.Errorf("%.0f bytes per update at 80 pupils, want at most 5000", perUpdate)
	}
}

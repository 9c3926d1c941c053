package gql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// benchClassroom is one lesson's group: a host and 39 members, each with 10 variables
// reported, as the bench's seed profile keeps them.
func benchClassroom(b *testing.B) (*Server, classroom) {
	tb := brokertest.New(b, brokertest.Options{})
	s, err := New(tb.Broker, Config{DomainMode: broker.DomainFixed, Secret: "s", RequestTimeout: time.Minute, MaxRequestBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	g, err := tb.CreateGroup(ctx, broker.CreateGroupInput{Name: "bench", HostID: "host", Domain: "school", UseWebSocket: true})
	if err != nil {
		b.Fatal(err)
	}
	c := classroom{group: g.ID, domain: "school", host: "host"}
	for n := range 40 {
		node := fmt.Sprintf("node-%02d", n)
		if n > 0 {
			if _, _, err := tb.JoinGroup(ctx, c.group, c.domain, node); err != nil {
				b.Fatal(err)
			}
		}
		data := make([]broker.Pair, 10)
		for i := range data {
			data[i] = broker.Pair{Key: fmt.Sprintf("variable-%d", i), Value: fmt.Sprintf("seq:%s:%d:1764575000000000000", node, i)}
		}
		if _, err := tb.ReportData(c.group, c.domain, node, data); err != nil {
			b.Fatal(err)
		}
	}
	return s, c
}

func g4Document(b *testing.B, name string) string {
	for _, d := range manifest(b) {
		if d.File == "g4_"+name+"_typename.graphql" {
			return d.text(b)
		}
	}
	b.Fatalf("no document %s", name)
	return ""
}

// BenchmarkListGroupStatuses is the editor's 15 s sync of a 40-node group with 10
// variables each, through the plan, and through graphql-go for comparison.
func BenchmarkListGroupStatuses(b *testing.B) {
	s, c := benchClassroom(b)
	req := request{Query: g4Document(b, "ListGroupStatuses"), OperationName: "ListGroupStatuses",
		Variables: map[string]any{"groupId": c.group, "domain": c.domain}}
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, errs, ok := s.execPlanned(context.Background(), req, false); !ok || len(errs) > 0 {
				b.Fatal("not planned", errs)
			}
		}
	})
	b.Run("graphql-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := s.schema.Exec(context.Background(), req.Query, req.OperationName, req.Variables); len(res.Errors) > 0 {
				b.Fatal(res.Errors)
			}
		}
	})
}

// BenchmarkReportDataRoundTrip is one reportDataByNode from the HTTP handler to the
// subscriber's encoded frame: request decoding, the broker, the embedded NATS hop and the
// planned onMessageInGroup payload.
func BenchmarkReportDataRoundTrip(b *testing.B) {
	s, c := benchClassroom(b)
	sub := request{Query: g4Document(b, "OnMessageInGroup"), OperationName: "OnMessageInGroup",
		Variables: map[string]any{"groupId": c.group, "domain": c.domain}}
	p := s.planOf(sub)
	frames := make(chan []byte, 16)
	prefix := newDialect(protoAppSync).resultPrefix("1")
	cancel, err := s.b.Subscribe(c.domain, c.group, func(m *broker.Message) {
		p.Render(m, func(payload []byte, _ bool) {
			frames <- append(append(append([]byte(nil), prefix...), payload...), '}')
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cancel)
	vars := make([]string, 10)
	for i := range vars {
		vars[i] = fmt.Sprintf(`{"key":"variable-%d","value":"seq:node-01:%d:1764575000000000000"}`, i, i)
	}
	body := `{"operationName":"ReportDataByNode","query":` + quoteJSON(g4Document(b, "ReportDataByNode")) +
		`,"variables":{"groupId":"` + c.group + `","domain":"school","nodeId":"node-01","data":[` + strings.Join(vars, ",") + `]}}`
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		h.ServeHTTP(w, r)
		if w.Code != 200 || strings.Contains(w.Body.String(), "errors") {
			b.Fatal(w.Code, w.Body.String())
		}
		<-frames
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

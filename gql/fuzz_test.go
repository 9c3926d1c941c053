package gql_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
)

// FuzzRequest sends arbitrary bodies to the API: every answer must be AppSync-shaped JSON with
// a 200, 400 or 413, and the group made before must come through untouched.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `{"query":"{ listGroupsByDomain(domain: \"d\") { id } }"}`,
		`{"query":"mutation($d:[SensorDataInput!]!){ reportDataByNode(groupId:\"g\",domain:\"d\",nodeId:\"n\",data:$d){ groupId } }","variables":{"d":[{"key":"k","value":"v"}]}}`,
		`{"query":"mutation { createGroup(name:\"n\", hostId:\"h\", domain:\"d\") { id } }"}`,
		`{"query":"query { pollGroupData(groupId:\"g\", domain:\"d\", since:\"EVENT#x#1\") { events { name } } }"}`,
		`{"query":"{","variables":{}}`, `{"query":"subscription { onMessageInGroup(groupId:\"g\",domain:\"d\"){groupId} }"}`,
	} {
		f.Add(seed)
	}
	tb := brokertest.New(f, brokertest.Options{})
	api, err := gql.New(tb.Broker, gql.Config{DomainMode: broker.DomainFixed, MaxRequestBytes: 64 << 10, RequestTimeout: 30e9})
	if err != nil {
		f.Fatal(err)
	}
	g, err := tb.CreateGroup(f.Context(), broker.CreateGroupInput{Name: "n", HostID: "keeper", Domain: "keep", UseWebSocket: true})
	if err != nil {
		f.Fatal(err)
	}
	h := api.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body)))
		switch w.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
		var out struct {
			Errors []struct {
				Message string `json:"message"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("response %q is not JSON", w.Body.String())
		}
		if w.Code != 200 && (len(out.Errors) == 0 || out.Errors[0].Message == "") {
			t.Fatalf("error response without a message: %s", w.Body.String())
		}
		if got, _ := tb.GetGroup(g.ID, g.Domain); got == nil || *got != g {
			t.Fatalf("the kept group changed after %q", body)
		}
	})
}

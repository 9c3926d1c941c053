package gql_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
)

// env is a real meshd API listening on a loopback port.
type env struct {
	*brokertest.Broker
	URL string
	// Key is sent as x-api-key with every request when set.
	Key string
	api *gql.Server
	// ws is the base URL of the realtime endpoints.
	ws  string
	cfg gql.Config
}

// start serves the API over a test broker on a random loopback port.
func start(t *testing.T, configure ...func(*gql.Config)) *env {
	t.Helper()
	return startWith(t, brokertest.Options{}, configure...)
}

// startWith is start over a test broker with the given options.
func startWith(t *testing.T, opts brokertest.Options, configure ...func(*gql.Config)) *env {
	t.Helper()
	tb := brokertest.New(t, opts)
	cfg := gql.Config{DomainMode: broker.DomainFixed, Secret: "test-secret-key", MaxRequestBytes: 1 << 20, RequestTimeout: 30e9}
	for _, c := range configure {
		c(&cfg)
	}
	api, err := gql.New(tb.Broker, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The listener meshd serves on, so realtime tests exercise batched writes too.
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Listener = gql.BatchingListener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{Broker: tb, URL: srv.URL + "/graphql", api: api, ws: "ws" + strings.TrimPrefix(srv.URL, "http"), cfg: cfg}
}

// result is a decoded response.
type result struct {
	Status int
	Header http.Header
	Data   map[string]any
	Errors []map[string]any
	Raw    string
}

// gqlErr is the first error's errorType and message.
func (r result) gqlErr() (string, string) {
	if len(r.Errors) == 0 {
		return "", ""
	}
	typ, _ := r.Errors[0]["errorType"].(string)
	msg, _ := r.Errors[0]["message"].(string)
	return typ, msg
}

func (e *env) do(t *testing.T, query string, vars map[string]any) result {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return e.raw(t, http.MethodPost, e.URL, string(body), nil)
}

func (e *env) raw(t *testing.T, method, url, body string, header map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.Key != "" {
		req.Header.Set("X-Api-Key", e.Key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		var out struct {
			Data   map[string]any   `json:"data"`
			Errors []map[string]any `json:"errors"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("response is not JSON: %q", raw)
		}
		r.Data, r.Errors = out.Data, out.Errors
	}
	return r
}

// ok runs a document that must succeed and returns its data.
func (e *env) ok(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := e.do(t, query, vars)
	if r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("%s: status %d, body %s", firstLine(query), r.Status, r.Raw)
	}
	return r.Data
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

// field walks a decoded JSON value by keys and indexes.
func field(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := field(v, path...).(string)
	return s
}

const (
	createGroup = `mutation CreateGroup($name: String!, $hostId: ID!, $domain: String!, $useWebSocket: Boolean!, $maxConnectionTimeSeconds: Int) {
  createGroup(name: $name, hostId: $hostId, domain: $domain, useWebSocket: $useWebSocket, maxConnectionTimeSeconds: $maxConnectionTimeSeconds) {
    id domain fullId name hostId createdAt expiresAt heartbeatIntervalSeconds useWebSocket pollingIntervalSeconds
  }
}`
	joinGroup = `mutation JoinGroup($groupId: ID!, $domain: String!, $nodeId: ID!) {
  joinGroup(groupId: $groupId, domain: $domain, nodeId: $nodeId) {
    id name groupId domain expiresAt heartbeatIntervalSeconds useWebSocket pollingIntervalSeconds
  }
}`
	reportData = `mutation Report($groupId: ID!, $domain: String!, $nodeId: ID!, $data: [SensorDataInput!]!) {
  reportDataByNode(groupId: $groupId, domain: $domain, nodeId: $nodeId, data: $data) {
    groupId domain nodeStatus { nodeId groupId domain data { key value } timestamp } batchEvent { firedByNodeId } groupDissolve { message }
  }
}`
	dissolveGroup = `mutation Dissolve($groupId: ID!, $domain: String!, $hostId: ID!) {
  dissolveGroup(groupId: $groupId, domain: $domain, hostId: $hostId) { groupId domain groupDissolve { groupId domain message } }
}`
	listStatuses = `query Statuses($groupId: ID!, $domain: String!) {
  listGroupStatuses(groupId: $groupId, domain: $domain) { nodeId groupId domain data { key value } timestamp }
}`
)

// group creates a WebSocket group and returns its id.
func (e *env) group(t *testing.T, host, domain string) string {
	t.Helper()
	d := e.ok(t, createGroup, map[string]any{"name": host, "hostId": host, "domain": domain, "useWebSocket": true})
	return str(d, "createGroup", "id")
}

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

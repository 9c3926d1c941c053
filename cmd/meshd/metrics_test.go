package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestTroubleMetricsMove makes the failures an operator must see happen on the real binary
// and reads them from /metrics.
func TestTroubleMetricsMove(t *testing.T) {
	p := startMeshd(t, "-api-keys", "k", "-allowed-origins", "https://school.example", "-max-request-bytes", "2048")
	base := strings.TrimSuffix(p.URL, "/graphql")
	send := func(key, origin string, body string) int {
		req, _ := http.NewRequest(http.MethodPost, p.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	create := `{"query":"mutation { createGroup(name: \"n\", hostId: \"h\", domain: \"d\") { id } }"}`
	for _, c := range []struct {
		key, origin, body string
		want              int
	}{
		{"", "", create, 401},
		{"wrong", "", create, 401},
		{"k", "https://elsewhere.example", create, 403},
		{"k", "", `{"query":"` + strings.Repeat("x", 4096) + `"}`, 413},
		{"k", "https://school.example", create, 200},
	} {
		if got := send(c.key, c.origin, c.body); got != c.want {
			t.Fatalf("key %q origin %q: %d, want %d", c.key, c.origin, got, c.want)
		}
	}
	// The host ends its lesson: the group counts as dissolved.
	p.key = "k"
	id := p.post(t, `query { listGroupsByDomain(domain: "d") { id } }`, nil)["listGroupsByDomain"].([]any)[0].(map[string]any)["id"].(string)
	p.post(t, `mutation($g: ID!) { dissolveGroup(groupId: $g, domain: "d", hostId: "h") { groupId } }`, map[string]any{"g": id})

	// A realtime client with a wrong key: refused, counted, its socket closed with 4403.
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}).Dial(strings.Replace(p.URL, "http://", "ws://", 1)+"/realtime", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]string{"x-api-key": "wrong"}})
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 4403) {
		t.Fatalf("refused socket: %v", err)
	}
	ws.Close()
	// The server counts the close once its side of the socket has ended.
	var text string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(text, `meshd_realtime_sockets_closed_total{code="4403"} 1`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the closed socket is not counted:\n%s", text)
		}
		_, text = get(t, http.DefaultClient, base+"/metrics")
	}

	for series, want := range map[string]float64{
		`meshd_auth_failures_total{transport="http"}`:     2,
		`meshd_auth_failures_total{transport="realtime"}`: 1,
		"meshd_realtime_sockets_opened_total":             1,
		`meshd_http_responses_total{code="101"}`:          1,
		`meshd_http_responses_total{code="401"}`:          2,
		`meshd_http_responses_total{code="403"}`:          1,
		`meshd_http_responses_total{code="413"}`:          1,
		"meshd_groups_created_total":                      1,
		"meshd_groups_dissolved_total":                    1,
		"meshd_groups_expired_total":                      0,
		"meshd_store_last_commit_failed":                  0,
	} {
		if got := metricValue(t, text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Three API requests answered 200, and every scrape of /metrics before this one.
	if ok := metricValue(t, text, `meshd_http_responses_total{code="200"}`); ok < 3 {
		t.Errorf(`meshd_http_responses_total{code="200"} = %v, want at least 3`, ok)
	}
	if size := metricValue(t, text, "meshd_store_file_bytes"); size < 16<<10 {
		t.Errorf("meshd_store_file_bytes = %v", size)
	}
	// The latency buckets reach past a minute, so that saturation shows below +Inf.
	if !strings.Contains(text, `meshd_graphql_operation_duration_seconds_bucket{operation="createGroup",le="104.8576"} 1`) {
		t.Errorf("no createGroup bucket at 104.8576 s:\n%s", text)
	}
	if !strings.Contains(text, "meshd_build_info{goversion=") {
		t.Error("no meshd_build_info")
	}
}

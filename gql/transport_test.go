package gql_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/smalruby/meshd/gql"
)

func TestMalformedRequests(t *testing.T) {
	e := start(t, func(c *gql.Config) { c.MaxRequestBytes = 4096 })
	tests := []struct {
		name, method, body string
		status             int
		errType, message   string
	}{
		{"empty body", "POST", "", 400, "MalformedHttpRequestException", "Request body is empty."},
		{"blank body", "POST", "  \n", 400, "MalformedHttpRequestException", "Request body is empty."},
		{"not JSON", "POST", "query { x }", 400, "MalformedHttpRequestException", "Unable to parse GraphQL query."},
		{"array", "POST", "[]", 400, "MalformedHttpRequestException", "Unable to parse GraphQL query."},
		{"empty object", "POST", "{}", 400, "MalformedHttpRequestException", "Unable to parse GraphQL query."},
		{"query not a string", "POST", `{"query": 5}`, 400, "MalformedHttpRequestException", "Unable to parse GraphQL query."},
		{"variables not an object", "POST", `{"query": "{ getNodeStatus(nodeId: \"x\") { nodeId } }", "variables": [1]}`, 400, "MalformedHttpRequestException", "Unable to parse GraphQL query."},
		{"truncated JSON", "POST", `{"query": "{`, 400, "MalformedHttpRequestException", "Unable to parse GraphQL query."},
		{"too large", "POST", `{"query": "` + strings.Repeat("x", 5000) + `"}`, 413, "PayloadTooLargeException", "larger than the limit of 4096 bytes"},
		{"PUT", "PUT", `{"query": "{ x }"}`, 405, "MethodNotAllowed", "PUT"},
		{"DELETE", "DELETE", "", 405, "MethodNotAllowed", "DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(t, tt.method, e.URL, tt.body, nil)
			typ, msg := r.gqlErr()
			if r.Status != tt.status || typ != tt.errType || !strings.Contains(msg, tt.message) {
				t.Fatalf("got %d %s %q; want %d %s %q", r.Status, typ, msg, tt.status, tt.errType, tt.message)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	// The server still serves everyone after all that.
	e.group(t, "host", "d")
}

func TestDocumentErrors(t *testing.T) {
	e := start(t)
	tests := []struct {
		name, query string
		vars        map[string]any
		message     string
	}{
		{"unknown field", `query { listGroupsByDomain(domain: "d") { id nope } }`, nil, "Validation error of type"},
		{"missing argument", `mutation { joinGroup(groupId: "g", domain: "d") { id } }`, nil, "Validation error of type"},
		{"missing variable", joinGroup, map[string]any{"groupId": "g"}, "Validation error of type"},
		{"wrong variable type", reportData, map[string]any{"groupId": "g", "domain": "d", "nodeId": "n", "data": "oops"}, "Validation error of type"},
		{"syntax", `query { listGroupsByDomain(domain: "d") { id `, nil, "Validation error of type"},
		{"subscription over HTTP", `subscription { onMessageInGroup(groupId: "g", domain: "d") { groupId } }`, nil, "realtime endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.query, tt.vars)
			if r.Status != 200 || len(r.Errors) == 0 || !strings.Contains(r.Raw, `"data":null`) {
				t.Fatalf("got %d %s", r.Status, r.Raw)
			}
			typ, msg := r.gqlErr()
			if typ != "" || !strings.Contains(msg, tt.message) {
				t.Fatalf("document errors carry no errorType: %s", r.Raw)
			}
			if p, ok := r.Errors[0]["path"]; !ok || p != nil {
				t.Fatalf("document errors have path null: %s", r.Raw)
			}
		})
	}
}

func TestBadArgumentValues(t *testing.T) {
	e := start(t)
	id := e.group(t, "host", "d")
	fire := `mutation($e: [EventInput!]!) { fireEventsByNode(groupId: "` + id + `", domain: "d", nodeId: "n", events: $e) { groupId } }`
	r := e.do(t, fire, map[string]any{"e": []any{map[string]any{"eventName": "x", "firedAt": "not a time"}}})
	if typ, _ := r.gqlErr(); len(r.Errors) == 0 || (typ != "" && typ != "ValidationError") {
		t.Fatalf("bad firedAt: %s", r.Raw)
	}
	r = e.do(t, reportData, map[string]any{"groupId": id, "domain": "d", "nodeId": strings.Repeat("n", 300), "data": []any{}})
	if typ, msg := r.gqlErr(); typ != "ValidationError" || !strings.Contains(msg, "nodeId must be 256 bytes or less") {
		t.Fatalf("long nodeId: %s", r.Raw)
	}
	for _, word := range []string{"not found", "expired", "unauthorized"} {
		if strings.Contains(strings.ToLower(r.Raw), word) {
			t.Fatalf("validation message contains %q, which disconnects the client", word)
		}
	}
}

func TestGET(t *testing.T) {
	e := start(t)
	e.group(t, "host", "d")
	q := url.Values{"query": {`query($d: String!) { listGroupsByDomain(domain: $d) { id } }`}, "variables": {`{"d":"d"}`}}
	r := e.raw(t, "GET", e.URL+"?"+q.Encode(), "", nil)
	if r.Status != 200 || len(field(r.Data, "listGroupsByDomain").([]any)) != 1 {
		t.Fatalf("GET query: %d %s", r.Status, r.Raw)
	}
	q = url.Values{"query": {`mutation { createDomain }`}}
	r = e.raw(t, "GET", e.URL+"?"+q.Encode(), "", nil)
	if r.Status != 200 || !strings.Contains(r.Raw, "only queries can be sent with GET") {
		t.Fatalf("GET mutation: %d %s", r.Status, r.Raw)
	}
	r = e.raw(t, "GET", e.URL, "", nil)
	if r.Status != 400 {
		t.Fatalf("GET without query: %d %s", r.Status, r.Raw)
	}
}

func TestAPIKeys(t *testing.T) {
	e := start(t, func(c *gql.Config) { c.APIKeys = []string{"da2-one", "da2-two"} })
	body := `{"query":"mutation { createDomain }"}`
	for _, tt := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no key", nil, 401},
		{"wrong key", map[string]string{"x-api-key": "da2-three"}, 401},
		{"prefix of a key", map[string]string{"x-api-key": "da2-on"}, 401},
		{"first key", map[string]string{"X-Api-Key": "da2-one"}, 200},
		{"second key, lower-case header", map[string]string{"x-api-key": "da2-two"}, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(t, "POST", e.URL, body, tt.header)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Raw)
			}
			if tt.status == 401 {
				if typ, msg := r.gqlErr(); typ != "UnauthorizedException" || msg != "You are not authorized to make this call." || r.Header.Get("x-amzn-ErrorType") != "UnauthorizedException" {
					t.Fatalf("401 body %s", r.Raw)
				}
			}
		})
	}
	open := start(t)
	if r := open.raw(t, "POST", open.URL, body, nil); r.Status != 200 {
		t.Fatalf("no keys configured must accept a missing key: %d", r.Status)
	}
}

func TestCORS(t *testing.T) {
	e := start(t)
	pre := e.raw(t, "OPTIONS", e.URL, "", map[string]string{
		"Origin":                                 "https://smalruby.app",
		"Access-Control-Request-Method":          "POST",
		"Access-Control-Request-Headers":         "content-type,x-amz-user-agent,x-api-key",
		"Access-Control-Request-Private-Network": "true",
	})
	h := pre.Header
	if pre.Status != 204 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Methods") != "GET, POST, OPTIONS" ||
		h.Get("Access-Control-Allow-Headers") != "content-type,x-amz-user-agent,x-api-key" || h.Get("Access-Control-Max-Age") != "86400" ||
		h.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Fatalf("preflight: %d %v", pre.Status, h)
	}
	other := e.raw(t, "OPTIONS", strings.Replace(e.URL, "/graphql", "/anything", 1), "", map[string]string{"Origin": "https://x"})
	if other.Status != 204 || other.Header.Get("Access-Control-Allow-Headers") == "" || other.Header.Get("Access-Control-Allow-Private-Network") != "" {
		t.Fatalf("preflight elsewhere: %d %v", other.Status, other.Header)
	}
	post := e.raw(t, "POST", e.URL, `{"query":"mutation { createDomain }"}`, map[string]string{"Origin": "https://smalruby.app"})
	if post.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("POST without Access-Control-Allow-Origin")
	}
	bad := e.raw(t, "POST", e.URL, "", map[string]string{"Origin": "https://smalruby.app"})
	if bad.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("error responses need CORS headers too, or the browser hides them")
	}

	limited := start(t, func(c *gql.Config) { c.AllowedOrigins = []string{"https://smalruby.app"} })
	ok := limited.raw(t, "POST", limited.URL, `{"query":"mutation { createDomain }"}`, map[string]string{"Origin": "https://smalruby.app"})
	if ok.Status != 200 || ok.Header.Get("Access-Control-Allow-Origin") != "https://smalruby.app" || ok.Header.Get("Vary") != "Origin" {
		t.Fatalf("allowed origin: %d %v", ok.Status, ok.Header)
	}
	no := limited.raw(t, "POST", limited.URL, `{"query":"mutation { createDomain }"}`, map[string]string{"Origin": "https://evil.example"})
	if typ, _ := no.gqlErr(); no.Status != 403 || typ != "ForbiddenOrigin" {
		t.Fatalf("other origin: %d %s", no.Status, no.Raw)
	}
}

func TestNullDomainOfOldestBuilds(t *testing.T) {
	e := start(t)
	r := e.do(t, `query($d: String) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": nil})
	if typ, msg := r.gqlErr(); typ != "ValidationError" || msg != "domain is required" {
		t.Fatalf("null domain: %s", r.Raw)
	}
	leave := e.ok(t, `mutation { leaveGroup(groupId: "g", domain: "d", nodeId: "n") { id name groupId domain } }`, nil)
	if str(leave, "leaveGroup", "id") != "n" || str(leave, "leaveGroup", "name") != "Node n" {
		t.Fatalf("oldest leaveGroup selection: %v", leave)
	}
}

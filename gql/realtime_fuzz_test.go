package gql

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// FuzzCredentials feeds arbitrary upgrade requests' header parameters and subprotocols to the
// credential reader: it never panics and finds a key only in a well-formed header object.
func FuzzCredentials(f *testing.F) {
	f.Add("eyJ4LWFwaS1rZXkiOiJrIn0=", "header-eyJ4LWFwaS1rZXkiOiJrIn0")
	f.Add("e30=", "graphql-ws")
	f.Add("%%%", "header-")
	f.Fuzz(func(t *testing.T, query, protocol string) {
		r := &http.Request{URL: &url.URL{RawQuery: "header=" + query + "&payload=e30="}, Header: http.Header{"Sec-Websocket-Protocol": {protocol}}}
		key, _ := credentials(r)
		if key != "" {
			if _, ok := decodeHeader(query); !ok {
				if _, ok := decodeHeader(protocol[min(len(protocol), len("header-")):]); !ok {
					t.Fatalf("key %q from undecodable input %q %q", key, query, protocol)
				}
			}
		}
	})
}

// FuzzClientFrame parses arbitrary frames as both dialects do: never a panic, and a start
// payload either yields a query or a typed error.
func FuzzClientFrame(f *testing.F) {
	f.Add([]byte(`{"id":"1","type":"start","payload":{"data":"{\"query\":\"subscription { a }\"}","extensions":{"authorization":{"x-api-key":"k"}}}}`))
	f.Add([]byte(`{"type":"start","payload":{"query":"{ a }"}}`))
	f.Add([]byte(`{"type":"subscribe","id":"x","payload":{"query":"{ a }","variables":[]}}`))
	f.Add([]byte(`{"type":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cf clientFrame
		if json.Unmarshal(data, &cf) != nil {
			return
		}
		req, _, err := parseStart(cf.Payload)
		if err == nil && req.Query == "" {
			t.Fatalf("start %q parsed without a query", data)
		}
		if err != nil && err != errMalformedStart {
			t.Fatalf("untyped error %v", err)
		}
	})
}

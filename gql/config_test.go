package gql_test

import (
	"net/http/httptest"
	"testing"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
)

// A server on the zero Config serves requests with the default limits and timers.
func TestZeroConfigServes(t *testing.T) {
	tb := brokertest.New(t, brokertest.Options{})
	api, err := gql.New(tb.Broker, gql.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	e := &env{Broker: tb, URL: srv.URL + "/graphql", api: api}
	id := e.group(t, "host", "d")
	if got := str(e.ok(t, `query { listGroupsByDomain(domain: "d") { id } }`, nil), "listGroupsByDomain", 0, "id"); got != id {
		t.Fatalf("listed %q, want %q", got, id)
	}
}

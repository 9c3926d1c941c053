package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
)

// TestTargetWithAllowRemote loads a server the generator did not start, named as any
// endpoint would be with -allow-remote — on loopback, as every test must stay.
func TestTargetWithAllowRemote(t *testing.T) {
	tb := brokertest.New(t, brokertest.Options{})
	api, err := gql.New(tb.Broker, gql.Config{DomainMode: broker.DomainFixed, Secret: "s", MaxRequestBytes: 1 << 20, RequestTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-target", srv.URL + "/graphql", "-allow-remote", "-groups", "1", "-nodes", "3", "-data-rate", "1", "-event-rate", "1",
		"-warmup", "200ms", "-duration", "2s", "-ceiling", "0"}
	if code := mainWith(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "lost 0, duplicated 0, out of order 0, unexpected 0") || !strings.Contains(stdout.String(), "HTTP errors      none") {
		t.Fatalf("report:\n%s", &stdout)
	}
}

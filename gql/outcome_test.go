package gql_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/gql"
)

// The operation metric's outcome is the errorType the client reads, on the planned and on
// graphql-go's path alike.
func TestOperationOutcomeIsTheClientsErrorType(t *testing.T) {
	var mu sync.Mutex
	var outcomes []string
	e := start(t, func(c *gql.Config) {
		c.OnOperation = func(_, outcome string, _ time.Duration) {
			mu.Lock()
			outcomes = append(outcomes, outcome)
			mu.Unlock()
		}
	})
	id := e.group(t, "host", "d")
	tests := []struct {
		name, query, want string
	}{
		{"broker error, planned", `mutation { joinGroup(groupId: "nope", domain: "d", nodeId: "n") { id } }`, "GroupNotFound"},
		{"broker error, graphql-go", `mutation { joinGroup(groupId: "nope", domain: "d", nodeId: "n") { id @include(if: true) } }`, "GroupNotFound"},
		{"broker validation", `mutation { fireEventsByNode(groupId: "` + id + `", domain: "d", nodeId: "` + strings.Repeat("n", 300) + `", events: []) { groupId } }`, "ValidationError"},
		{"success", `query { listGroupsByDomain(domain: "d") { id } }`, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			outcomes = nil
			mu.Unlock()
			r := e.do(t, tt.query, nil)
			client, _ := r.gqlErr()
			if client == "" && len(r.Errors) == 0 {
				client = "ok"
			}
			mu.Lock()
			defer mu.Unlock()
			if len(outcomes) != 1 || outcomes[0] != client || client != tt.want {
				t.Fatalf("outcomes %v, client's errorType %q, want %q: %s", outcomes, client, tt.want, r.Raw)
			}
		})
	}
	// The server counts them too: the group's creation and the four above.
	st := e.api.OperationStats()
	if st.Total != 5 || st.Failed["GroupNotFound"] != 2 || st.Failed["ValidationError"] != 1 || len(st.Failed) != 2 {
		t.Errorf("operation stats %+v, want 5 operations, 2 GroupNotFound and 1 ValidationError", st)
	}
}

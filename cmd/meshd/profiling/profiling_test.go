package profiling

import (
	"slices"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	secret := map[string]bool{"api-keys": true, "secret-key": true}
	tests := []struct {
		name, args, want string
	}{
		{"value after the flag", "meshd -api-keys k1,k2 -store memory", "meshd -api-keys REDACTED -store memory"},
		{"inline value", "meshd --secret-key=s1", "meshd --secret-key=REDACTED"},
		{"other flags kept", "meshd -listen-addr :8080", "meshd -listen-addr :8080"},
		{"nothing after --", "meshd -- -api-keys k1", "meshd -- -api-keys k1"},
		{"flag last", "meshd -api-keys", "meshd -api-keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact(strings.Fields(tt.args), secret); !slices.Equal(got, strings.Fields(tt.want)) {
				t.Fatalf("redact(%q) = %q", tt.args, got)
			}
		})
	}
}

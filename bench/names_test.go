package main

import "testing"

func TestEnumNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{outcomePending.String(), "pending"},
		{outcomeAcked.String(), "acked"},
		{outcomeFailed.String(), "failed"},
		{outcomeUnknown.String(), "unknown"},
		{mutationOutcome(9).String(), "outcome(9)"},
		{kindData.String(), "data"},
		{kindEvent.String(), "event"},
		{messageKind(7).String(), "kind(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

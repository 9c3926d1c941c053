package realclient

import "testing"

func TestAtLeast(t *testing.T) {
	for _, c := range []struct {
		version string
		want    bool
	}{
		{"v20.14.0", true},
		{"v20.20.2", true},
		{"v22.1.0", true},
		{"v20.13.9", false},
		{"v18.19.1", false},
		{"20.14.0", false},
		{"", false},
	} {
		if got := atLeast(c.version, 20, 14); got != c.want {
			t.Errorf("atLeast(%q, 20, 14) = %v, want %v", c.version, got, c.want)
		}
	}
}

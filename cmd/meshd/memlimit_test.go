package main

import (
	"bytes"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	tests := []struct {
		name string
		args []string
		want int64
	}{
		{"none by default", nil, before},
		{"in MiB", []string{"-memory-limit-mib", "48"}, 48 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(before)
			cfg, err := parseConfig(tt.args, env(nil), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			setMemoryLimit(cfg.memoryLimitMiB)
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Fatalf("memory limit = %d, want %d", got, tt.want)
			}
		})
	}
}

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBinaryStartupMistakes runs the real binary with settings that cannot work: each stops
// it with one clear message and the right exit status, before it touches the data directory.
func TestBinaryStartupMistakes(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"invalid domain mode", []string{"-domain-mode", "ipv6"}, 2, `meshd: -domain-mode: domain mode "ipv6": want fixed, ip or subnet`},
		{"origin without a scheme", []string{"-allowed-origins", "smalruby.app"}, 2, `meshd: -allowed-origins: "smalruby.app" is not an origin: write it as a browser sends it, with its scheme, such as https://smalruby.app`},
		{"missing static directory", []string{"-static", "/nonexistent"}, 2, "meshd: -static: stat /nonexistent: no such file or directory"},
		{"metrics address in use", []string{"-metrics-addr", taken.Addr().String()}, 1, "meshd: metrics listener: listen tcp " + taken.Addr().String() + ": bind: address already in use"},
		{"pprof address in use", []string{"-pprof-addr", taken.Addr().String()}, 1, "meshd: pprof listener: listen tcp " + taken.Addr().String() + ": bind: address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			cmd := exec.Command(meshdBinary(t), append([]string{"-listen-addr", "127.0.0.1:0", "-data-dir", dir}, tt.args...)...)
			out, _ := cmd.CombinedOutput()
			if got := cmd.ProcessState.ExitCode(); got != tt.status {
				t.Fatalf("exit status %d, want %d:\n%s", got, tt.status, out)
			}
			if !strings.Contains(string(out), tt.want+"\n") {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if strings.Contains(string(out), "listening") {
				t.Errorf("meshd claimed to listen:\n%s", out)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the data directory was touched: %v", err)
			}
		})
	}
}

// TestBinaryWarnsAboutLikelyMistakes starts meshd with settings that work but are probably
// not meant, and reads its warnings.
func TestBinaryWarnsAboutLikelyMistakes(t *testing.T) {
	p := startMeshdEnv(t, []string{"MESH_API_KEY=secret-of-the-school", "MESH_API_KEYS="}, "-store", "memory", "-pprof-addr", ":0")
	p.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Logs())
	}
	for _, want := range []string{
		`level=WARN msg="MESH_API_KEY is set but is not a meshd setting: it is ignored (did you mean MESH_API_KEYS?)"`,
		`level=WARN msg="no API key is set (-api-keys, MESH_API_KEYS): meshd accepts requests with any key or none"`,
		`level=WARN msg="-pprof-addr :0 listens beyond loopback`,
	} {
		if !strings.Contains(p.Logs(), want) {
			t.Errorf("the log lacks %s:\n%s", want, p.Logs())
		}
	}
}

package keyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key, path, err := Load(dir, "admin-key", "admin key", "meshd-admin-", 24)
	if err != nil || !strings.HasPrefix(key, "meshd-admin-") || len(key) != len("meshd-admin-")+48 || path != filepath.Join(dir, "admin-key") {
		t.Fatalf("first Load = %q, %q, %v", key, path, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("created data directory: %v %v", di, err)
	}
	again, _, err := Load(dir, "admin-key", "admin key", "meshd-admin-", 24)
	if err != nil || again != key {
		t.Fatalf("second Load = %q, %v; want the kept %q", again, err, key)
	}
	tests := []struct {
		name, content, want string
	}{
		{"kept with spaces around", "  configured \n", "configured"},
		{"empty: a new one", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "secret"), []byte(tt.content), 0o600)
			got, _, err := Load(dir, "secret", "secret", "", 32)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && got != tt.want || tt.want == "" && len(got) != 64 {
				t.Fatalf("Load = %q", got)
			}
		})
	}
	if k, err := Read(filepath.Join(t.TempDir(), "none"), "secret"); k != "" || err != nil {
		t.Fatalf("Read of a missing file = %q, %v", k, err)
	}
	if _, err := Read(t.TempDir(), "secret"); err == nil || !strings.HasPrefix(err.Error(), "read secret: ") {
		t.Fatalf("Read of a directory = %v", err)
	}
}

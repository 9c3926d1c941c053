package tlscert

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// selfSigned writes a self-signed ed25519 certificate of serial, usable as its own CA, to
// dir/name.pem and its key to dir/name.key, and returns both paths.
func selfSigned(t *testing.T, dir, name string, serial int64) (certFile, keyFile string) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: pkcs8}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// served is the serial of the certificate cfg serves now.
func served(t *testing.T, cfg *tls.Config) int64 {
	t.Helper()
	c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// TestReloadOnHangup: SIGHUP serves the renewed files; files that do not load leave the
// certificate served before.
func TestReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "listener", 1)
	c, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	if got := served(t, cfg); got != 1 || cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("serial %d, min version %x", got, cfg.MinVersion)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ReloadOnHangup(ctx, slog.New(slog.DiscardHandler), func() *Certificate { return c })
	hangup := func(want int64) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); served(t, cfg) != want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after SIGHUP serving %d, want %d", served(t, cfg), want)
			}
		}
	}
	selfSigned(t, dir, "listener", 2)
	hangup(2)
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil {
		t.Fatal("a broken key file reloads")
	}
	if got := served(t, cfg); got != 2 {
		t.Fatalf("a failed reload serves %d, want the old 2", got)
	}
}

func TestMutual(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "node", 1)
	cfg, err := Mutual(certFile, keyFile, certFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || len(cfg.Certificates) != 1 || cfg.ClientCAs == nil || cfg.RootCAs == nil {
		t.Fatalf("not mutual: %+v", cfg)
	}
	for name, files := range map[string][3]string{
		"no key":       {certFile, filepath.Join(dir, "none"), certFile},
		"no CA":        {certFile, keyFile, filepath.Join(dir, "none")},
		"CA holds key": {certFile, keyFile, keyFile},
	} {
		if _, err := Mutual(files[0], files[1], files[2]); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Package tlscert holds meshd's TLS certificates: the listener's, reloaded from its files on
// SIGHUP so that a renewed certificate is served without dropping a lesson's connections, and
// the operator's mutual TLS of cluster routes.
package tlscert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// Certificate is the listener's certificate, loaded from its files and reloaded on demand.
type Certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// Load reads the certificate and its key from their PEM files.
func Load(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on an error the certificate served stays the one before.
func (c *Certificate) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s: %w", c.certFile, err)
	}
	c.current.Store(&cert)
	return nil
}

// Config is a server TLS configuration (TLS 1.2 or later) that serves the certificate loaded
// last.
func (c *Certificate) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// ReloadOnHangup handles SIGHUP until ctx ends, whatever the configuration: systemd's reload
// sends it, and Go's default would stop meshd. It reloads cert()'s certificate (one that fails
// to load is logged and the old one kept); with no certificate there is nothing to reload.
func ReloadOnHangup(ctx context.Context, log *slog.Logger, cert func() *Certificate) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			c := cert()
			if c == nil {
				log.Info("SIGHUP: nothing to reload (no TLS certificate is configured)")
				continue
			}
			if err := c.Reload(); err != nil {
				log.Error("TLS certificate reload failed; keeping the old one", "err", err)
				continue
			}
			log.Info("TLS certificate reloaded", "cert", c.certFile)
		}
	}()
}

// Mutual is mutual TLS for cluster routes from the operator's files: each node presents its
// certificate and accepts only peers whose certificate the CA signed.
func Mutual(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load cluster TLS certificate %s: %w", certFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read cluster TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster TLS CA %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

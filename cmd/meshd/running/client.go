package running

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Client is a client for the running meshd's console at url, on this machine. Over
// HTTPS it accepts exactly the certificate of certFile (-tls-cert), whatever name it carries.
func Client(url, certFile string) (*http.Client, error) {
	if !strings.HasPrefix(url, "https://") {
		return http.DefaultClient, nil
	}
	if certFile == "" {
		return nil, fmt.Errorf("the running meshd serves its console at %s: set -tls-cert (MESH_TLS_CERT) as its service does, so that only its certificate is accepted", url)
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint over HTTPS: %w", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("admin endpoint over HTTPS: %s holds no certificate", certFile)
	}
	pinned := block.Bytes
	tlsConfig := &tls.Config{
		// The name is not checked, the certificate is: meshd is reached by its loopback address.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], pinned) {
				return errors.New("the server's certificate is not the one in -tls-cert")
			}
			return nil
		},
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}, nil
}

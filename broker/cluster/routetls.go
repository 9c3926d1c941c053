package cluster

import (
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// MinSecretLength is the shortest cluster secret a node accepts: routes are only as safe as
// the secret is hard to guess.
const MinSecretLength = 16

// routeServerName is the name in the certificate derived from the cluster secret, which
// every node expects of its peer whatever address it dialled.
const routeServerName = "meshd-route"

// routeKeyIterations is the PBKDF2 cost of deriving the route key from the cluster secret:
// a node pays it once at start, someone guessing the secret from the public key for every
// guess.
const routeKeyIterations = 200_000

// routeTLS is the TLS of this node's routes, which is always on: the operator's when
// o.TLS is set, otherwise mutual TLS with a certificate derived from the cluster secret.
// Either way a node sends its secret only to a peer that proved it holds the same
// credentials, so whoever answers on a peer's address learns nothing it could reuse.
func routeTLS(o *Options) (*tls.Config, error) {
	if o.TLS != nil {
		return o.TLS, nil
	}
	return secretTLS(o.Secret)
}

// secretTLS is mutual TLS in which every node holds the same self-signed certificate and
// key, derived from secret, and trusts that certificate alone.
func secretTLS(secret string) (*tls.Config, error) {
	seed, err := pbkdf2.Key(sha256.New, secret, []byte("meshd cluster route key"), routeKeyIterations, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("derive the route key: %w", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	// Fixed fields and a deterministic signature make the certificate the same on every
	// node.
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: routeServerName},
		DNSNames:              []string{routeServerName},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("derive the route certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("derive the route certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ServerName:   routeServerName,
	}, nil
}

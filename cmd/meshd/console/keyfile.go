package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AdminKeyFile is the file in the data directory that keeps a generated admin key.
const AdminKeyFile = "admin-key"

// MinAdminKeyLen keeps configured admin keys out of guessing range.
const MinAdminKeyLen = 16

// LoadAdminKeyFile reads the admin key kept in dir and returns it with its file; "" when
// there is none.
func LoadAdminKeyFile(dir string) (key, path string, err error) {
	path = filepath.Join(dir, AdminKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", path, nil
	}
	if err != nil {
		return "", path, fmt.Errorf("read admin key: %w", err)
	}
	return strings.TrimSpace(string(b)), path, nil
}

// LoadAdminKey returns the admin key kept in dir and its file, generating it on first start.
func LoadAdminKey(dir string) (key, path string, err error) {
	if key, path, err = LoadAdminKeyFile(dir); err != nil || key != "" {
		return key, path, err
	}
	if key, err = NewAdminKey(); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write admin key: %w", err)
	}
	return key, path, nil
}

// NewAdminKey generates an admin key.
func NewAdminKey() (string, error) {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate admin key: %w", err)
	}
	return "meshd-admin-" + hex.EncodeToString(buf), nil
}

// ValidateAdminKeys checks configured admin keys: long enough, and never one of the pupils'
// API keys.
func ValidateAdminKeys(adminKeys, apiKeys []string) []error {
	var errs []error
	for _, k := range adminKeys {
		if len(k) < MinAdminKeyLen {
			errs = append(errs, fmt.Errorf("-admin-keys: every admin key needs at least %d characters", MinAdminKeyLen))
		}
		for _, a := range apiKeys {
			if k == a {
				errs = append(errs, errors.New("-admin-keys: an admin key must not be an API key (the pupils' key is compiled into the editor and public)"))
			}
		}
	}
	return errs
}

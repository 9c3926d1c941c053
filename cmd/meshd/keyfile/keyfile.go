// Package keyfile keeps a generated key in a file of meshd's data directory: the createDomain
// secret and the console's admin key are each made once, on first start, and read at every
// start after.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Read returns the key kept in path, "" when the file is missing or empty. name says which
// key in errors.
func Read(path, name string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Load returns the key kept in the file base of dir and the file's path. When there is none
// (or the file is empty) it generates one, prefix followed by the hex of size random bytes,
// creates dir (0700) and writes the key (0600). name says which key in errors.
func Load(dir, base, name, prefix string, size int) (key, path string, err error) {
	path = filepath.Join(dir, base)
	if key, err = Read(path, name); err != nil || key != "" {
		return key, path, err
	}
	if key, err = New(name, prefix, size); err != nil {
		return "", path, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", path, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", path, fmt.Errorf("write %s: %w", name, err)
	}
	return key, path, nil
}

// New generates a key: prefix followed by the hex of size random bytes. name says which key in
// errors.
func New(name, prefix string, size int) (string, error) {
	buf := make([]byte, size)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate %s: %w", name, err)
	}
	return prefix + hex.EncodeToString(buf), nil
}

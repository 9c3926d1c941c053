package console

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/smalruby/meshd/cmd/meshd/keyfile"
)

// AdminKeyFile is the file in the data directory that keeps a generated admin key.
const AdminKeyFile = "admin-key"

// MinAdminKeyLen keeps configured admin keys out of guessing range.
const MinAdminKeyLen = 16

// A generated admin key: the prefix and the hex of this many random bytes.
const (
	adminKeyPrefix = "meshd-admin-"
	adminKeyBytes  = 24
)

// LoadAdminKeyFile reads the admin key kept in dir and returns it with its file; "" when
// there is none.
func LoadAdminKeyFile(dir string) (key, path string, err error) {
	path = filepath.Join(dir, AdminKeyFile)
	key, err = keyfile.Read(path, "admin key")
	return key, path, err
}

// LoadAdminKey returns the admin key kept in dir and its file, generating it on first start.
func LoadAdminKey(dir string) (key, path string, err error) {
	return keyfile.Load(dir, AdminKeyFile, "admin key", adminKeyPrefix, adminKeyBytes)
}

// NewAdminKey generates an admin key.
func NewAdminKey() (string, error) {
	return keyfile.New("admin key", adminKeyPrefix, adminKeyBytes)
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

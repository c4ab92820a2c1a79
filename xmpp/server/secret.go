package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// loadSecret reads the server's private random secret, creating it on
// first start. It must survive restarts: SCRAM derives the fake salts of
// unknown users from it, and a changing salt would reveal that the user
// does not exist.
func loadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("server: read secret: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("server: generate secret: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("server: write secret: %w", err)
	}
	return b, nil
}

package turn

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a TURN REST API shared secret (coturn's static-auth-secret).
// It prints as "[redacted]" so that it cannot reach a log by accident; use
// string(s) where the value itself is meant.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]" for %#v.
func (Secret) GoString() string { return redacted }

// LogValue keeps the secret out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// LoadOrCreateSecret returns the secret stored in the file at path,
// creating the file with a new random secret (128 bits and more, as
// letters and digits) when it does not exist. Keeping the file keeps issued
// credentials valid across restarts. Surrounding white space in the file is
// ignored; an empty file is an error rather than a reason to make a new
// secret, since that would silently invalidate every issued credential.
func LoadOrCreateSecret(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("turn: secret file %s is empty (remove it to generate a new secret)", path)
		}
		return Secret(s), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("turn: read secret: %w", err)
	}
	s := rand.Text()
	// Write to a temporary file and link it into place, so a crash never
	// leaves a partial secret and two processes starting at once agree.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".turn-secret-*")
	if err != nil {
		return "", fmt.Errorf("turn: write secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("turn: write secret: %w", err)
	}
	if _, err := tmp.WriteString(s + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("turn: write secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("turn: write secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("turn: write secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateSecret(path) // another process won the race
		}
		return "", fmt.Errorf("turn: write secret: %w", err)
	}
	return Secret(s), nil
}

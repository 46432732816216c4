package signing

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lattice-mesh/meshpack/atomicfile"
)

// Names of the files WriteKeyPair writes, as `cosign generate-key-pair` does.
const (
	PrivateKeyFile = "cosign.key"
	PublicKeyFile  = "cosign.pub"
)

// KeyFileOptions tunes WriteKeyPair. The zero value refuses to overwrite.
type KeyFileOptions struct {
	// Overwrite replaces existing cosign.key / cosign.pub files.
	// Default false: WriteKeyPair fails with ErrKeyExists.
	Overwrite bool
}

// WriteKeyPair generates a key pair (see GenerateKeyPair) and writes it to
// dir/cosign.key (mode 0600) and dir/cosign.pub (mode 0644). Each file is
// written to a temporary name, synced and then moved into place, so a crash
// never leaves a half-written key. Existing files are kept and an error
// wrapping ErrKeyExists is returned unless opts.Overwrite is set.
func WriteKeyPair(dir string, password []byte, opts KeyFileOptions) (keyPath, pubPath string, err error) {
	keyPath = filepath.Join(dir, PrivateKeyFile)
	pubPath = filepath.Join(dir, PublicKeyFile)
	if !opts.Overwrite {
		for _, p := range []string{keyPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return "", "", fmt.Errorf("%s: %w (remove it or choose another directory)", p, ErrKeyExists)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", "", fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	priv, pub, err := GenerateKeyPair(password)
	if err != nil {
		return "", "", err
	}
	if err := writeKeyFile(keyPath, priv, 0o600, opts.Overwrite); err != nil {
		return "", "", err
	}
	if err := writeKeyFile(pubPath, pub, 0o644, opts.Overwrite); err != nil {
		// Do not leave a private key without its public half.
		_ = os.Remove(keyPath)
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// writeKeyFile writes data to path through atomicfile: a temporary file
// next to it, synced, moved into place, and the directory synced. Without
// overwrite the move is a hard link, which fails with ErrKeyExists if path
// appeared meanwhile.
func writeKeyFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	f, err := atomicfile.CreateWith(path, perm, atomicfile.Options{NoReplace: !overwrite})
	if err != nil {
		return fmt.Errorf("%s: create temporary file: %w", path, err)
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("%s: write: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrKeyExists)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

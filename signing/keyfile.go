package signing

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	if err := writeFileAtomic(keyPath, priv, 0o600, opts.Overwrite); err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(pubPath, pub, 0o644, opts.Overwrite); err != nil {
		// Do not leave a private key without its public half.
		_ = os.Remove(keyPath)
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// moves it to path. Without overwrite the move is a hard link, which fails if
// path appeared meanwhile.
func writeFileAtomic(path string, data []byte, perm os.FileMode, overwrite bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: create temporary file: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: chmod: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: write: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: sync: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", tmp, err)
	}
	if overwrite {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("%s: rename: %w", path, err)
		}
	} else {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", path, ErrKeyExists)
			}
			return fmt.Errorf("%s: link: %w", path, err)
		}
		_ = os.Remove(tmp)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%s: open directory: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%s: sync directory: %w", dir, err)
	}
	return nil
}

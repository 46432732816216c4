package pack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckOutput checks, before any work, that a file can be published at path:
// its directory exists, and neither path nor, for a split bundle, the names
// it writes (path.000, path.sha256) is a directory. It creates nothing.
// Create calls it first; commands call it too, so that a bad path fails
// before any prompt or download.
func CheckOutput(path string, split bool) error {
	if path == "" {
		return &OutputError{Path: `""`, Reason: "no file name given"}
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &OutputError{Path: path, Reason: "directory " + dir + " does not exist; create it first"}
	case err != nil:
		return &OutputError{Path: path, Reason: err.Error()}
	case !st.IsDir():
		return &OutputError{Path: path, Reason: dir + " is not a directory"}
	}
	names := []string{path}
	if split {
		names = []string{path + ".000", path + ".sha256"}
	}
	for _, name := range names {
		if st, err := os.Stat(name); err == nil && st.IsDir() {
			return &OutputError{Path: path, Reason: name + " is a directory; name a file (inside it, if that is where it belongs)"}
		}
	}
	return nil
}

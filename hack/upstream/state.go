package upstream

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// State is what a running fixture upstream tells other processes (the
// demo, benchmark scripts) about itself; hack/fixture-upstream writes it as
// JSON once everything is ready.
type State struct {
	// Registry is the fixture registry's host:port (plain HTTP).
	Registry string `json:"registry"`
	// BaseURL is the HTTP file server's base URL.
	BaseURL string `json:"baseURL"`
	// Mirrors are the --mirror ORIGIN=REPLACEMENT arguments.
	Mirrors []string    `json:"mirrors"`
	Images  []ImageInfo `json:"images"`
	Charts  []ChartInfo `json:"charts"`
	Files   []FileInfo  `json:"files"`
	Stats   Stats       `json:"stats"`
	// UpstreamKeys maps catalog signing key names to the fixture public key
	// that signed the Istio images (pass as --upstream-key NAME=FILE).
	UpstreamKeys map[string]string `json:"upstreamKeys,omitempty"`
}

// State returns the description of u.
func (u *Upstream) State() State {
	return State{
		Registry: u.regHost,
		BaseURL:  u.httpBase,
		Mirrors:  u.Mirrors(),
		Images:   u.Images(),
		Charts:   u.Charts(),
		Files:    u.Files(),
		Stats:    u.stats,
	}
}

// WriteState writes st as indented JSON to path atomically: a temporary
// file in the same directory, fsynced, then renamed over path, so readers
// polling for path never see a partial file.
func WriteState(path string, st State) (err error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

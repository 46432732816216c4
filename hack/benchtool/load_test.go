package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestRawpush uploads a small layout into the embedded registry and checks
// that every blob is there, and that regbytes counts exactly their bytes.
func TestRawpush(t *testing.T) {
	root := t.TempDir()
	host := registrytest.NewWithConfig(t, registry.Config{Root: root})
	layout := t.TempDir()
	dir := filepath.Join(layout, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var digests []string
	var total int64
	for i, n := range []int{0, 1, 5000, 300 << 10} {
		b := bytes.Repeat([]byte{byte(i + 1)}, n)
		sum := sha256.Sum256(b)
		hexd := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(dir, hexd), b, 0o644); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, "sha256:"+hexd)
		total += int64(n)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"rawpush", "-conc", "2", host, layout}, &out); err != nil {
		t.Fatalf("rawpush: %v", err)
	}
	if want := fmt.Sprintf("blobs=4 bytes=%d conc=2 wall=", total); !strings.HasPrefix(out.String(), want) {
		t.Errorf("got %q, want it to start with %q", out.String(), want)
	}
	for _, d := range digests {
		resp, err := http.Head("http://" + host + "/v2/raw/blobs/" + d)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD blob %s: got %s, want 200 OK", d, resp.Status)
		}
	}
	got, err := dataBytes(root)
	if err != nil {
		t.Fatal(err)
	}
	if got != total {
		t.Errorf("regbytes: got %d, want %d", got, total)
	}
}

func TestRawpushRefusesBadDigest(t *testing.T) {
	host := registrytest.New(t)
	layout := t.TempDir()
	dir := filepath.Join(layout, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, strings.Repeat("0", 64)), []byte("not that digest"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"rawpush", host, layout}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "PUT") {
		t.Errorf("got error %v, want a refused PUT", err)
	}
}

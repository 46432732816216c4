package mirror_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lattice-mesh/meshpack/mirror"
)

// TestOpenVerified: the reader comes back only when the parts, the bundle
// and its signatures all verify; otherwise no reader and an error.
func TestOpenVerified(t *testing.T) {
	f := sharedBundle(t)
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	// splitSet writes data as NAME.000 and NAME.001 with a plain sha256sum
	// listing; bad lists a wrong sum for the second part.
	splitSet := func(t *testing.T, bad bool) string {
		base := filepath.Join(t.TempDir(), "mesh.tar.zst")
		half := (len(data) + 1) / 2 // the last part may not be longer than the others
		var listing string
		for i, part := range [][]byte{data[:half], data[half:]} {
			name := fmt.Sprintf("%s.%03d", base, i)
			if err := os.WriteFile(name, part, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(part)
			if bad && i == 1 {
				sum[0] ^= 1
			}
			listing += hex.EncodeToString(sum[:]) + "  " + filepath.Base(name) + "\n"
		}
		if err := os.WriteFile(base+".sha256", []byte(listing), 0o644); err != nil {
			t.Fatal(err)
		}
		return base + ".000"
	}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		opts    mirror.VerifyOptions
		wantErr error
	}{
		{"signed single file", func(*testing.T) string { return f.path }, mirror.VerifyOptions{Key: f.key}, nil},
		{"split set", func(t *testing.T) string { return splitSet(t, false) }, mirror.VerifyOptions{Key: f.key}, nil},
		{"part does not match NAME.sha256", func(t *testing.T) string { return splitSet(t, true) }, mirror.VerifyOptions{Key: f.key}, mirror.ErrVerify},
		{"no key", func(*testing.T) string { return f.path }, mirror.VerifyOptions{}, mirror.ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, err := mirror.OpenVerified(context.Background(), tt.path(t), mirror.VerifyFileOptions{VerifyOptions: tt.opts})
			if tt.wantErr == nil {
				if err != nil || r == nil {
					t.Fatalf("OpenVerified = %v, %v; want a reader", r, err)
				}
				r.Close()
				return
			}
			if r != nil {
				r.Close()
				t.Errorf("got a reader for a bundle that does not verify")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("OpenVerified error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

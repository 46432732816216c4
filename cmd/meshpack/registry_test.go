package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// TestRegistryServeExposure checks that `registry serve` refuses an address
// other hosts can reach without TLS and --htpasswd, before creating
// anything, unless --insecure-listen is given.
func TestRegistryServeExposure(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is never a local address: a serve that got as
	// far as listening fails there, after printing its warnings.
	const lan = "192.0.2.1:5000"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in stderr, in order
	}{
		{"all interfaces, no TLS, no auth", []string{"--addr", "0.0.0.0:5000"}, 2,
			[]string{"--addr 0.0.0.0:5000 is reachable from other hosts but has no TLS (--tls-cert and --tls-key) and no authentication (--htpasswd); set them, or pass --insecure-listen"}},
		{"empty host", []string{"--addr", ":5000"}, 2, []string{"--addr :5000 is reachable from other hosts"}},
		{"TLS without auth", []string{"--addr", lan, "--tls-cert", "c.pem", "--tls-key", "k.pem"}, 2,
			[]string{"has no authentication (--htpasswd); set them"}},
		{"auth without TLS", []string{"--addr", lan, "--htpasswd", "htpasswd"}, 2,
			[]string{"has no TLS (--tls-cert and --tls-key); set them"}},
		{"read-only and allow-push", []string{"--read-only", "--allow-push"}, 2, []string{"--read-only and --allow-push exclude each other"}},
		{"read-only and allow-delete", []string{"--read-only", "--allow-delete"}, 2, []string{"--read-only and --allow-delete exclude each other"}},
		{"insecure listen is read-only", []string{"--addr", lan, "--insecure-listen"}, 1,
			[]string{"WARNING: serving plain HTTP on " + lan, "WARNING: no authentication on " + lan + ": anyone who can reach it can pull every image;", "listen on " + lan}},
		{"insecure listen with pushes", []string{"--addr", lan, "--insecure-listen", "--allow-push"}, 1,
			[]string{"WARNING: no authentication on " + lan + ": anyone who can reach it can pull and push images;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "registry")
			_, errOut, code := runCLI(t, "", append([]string{"registry", "serve", "--root", root}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.wantCode, errOut)
			}
			rest := errOut
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order):\n%s", w, errOut)
				}
				rest = rest[i+len(w):]
			}
			if _, err := os.Stat(root); code == 2 && err == nil {
				t.Errorf("a refused serve created %s", root)
			}
		})
	}
}

// TestRegistryServeDelete checks that the served registry refuses DELETE
// unless --allow-delete.
func TestRegistryServeDelete(t *testing.T) {
	tests := []struct {
		name     string
		extra    []string
		deleteOK bool
	}{
		{"default", nil, false},
		{"allow delete", []string{"--allow-delete"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r, err := remote.NewRepository(serveRegistry(t, tt.extra...) + "/istio/pilot")
			if err != nil {
				t.Fatal(err)
			}
			r.PlainHTTP = true
			pushBytes := func(mt string, b []byte) ocispec.Descriptor {
				d := content.NewDescriptorFromBytes(mt, b)
				if err := r.Push(ctx, d, bytes.NewReader(b)); err != nil {
					t.Fatalf("push %s: %v", mt, err)
				}
				return d
			}
			cfg := pushBytes(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
			m := pushBytes(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"`+ocispec.MediaTypeImageManifest+
				`","config":{"mediaType":"`+cfg.MediaType+`","digest":"`+cfg.Digest.String()+`","size":`+strconv.FormatInt(cfg.Size, 10)+`},"layers":[]}`))
			if err := r.Delete(ctx, m); (err == nil) != tt.deleteOK {
				t.Errorf("delete manifest: %v, want success %v", err, tt.deleteOK)
			}
		})
	}
}

package pack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/pack"
	"github.com/lattice-mesh/meshpack/signing"
)

func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"taken", "split.tar.zst.000"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		split bool
		want  string // "" means accepted
	}{
		{"new file", filepath.Join(dir, "mesh.tar.zst"), false, ""},
		{"existing file", file, false, ""},
		{"new split", filepath.Join(dir, "mesh.tar.zst"), true, ""},
		{"missing directory", filepath.Join(dir, "no", "mesh.tar.zst"), false, "directory " + filepath.Join(dir, "no") + " does not exist"},
		{"parent is a file", filepath.Join(file, "mesh.tar.zst"), false, file + " is not a directory"},
		{"a directory", filepath.Join(dir, "taken"), false, "taken is a directory"},
		{"first part is a directory", filepath.Join(dir, "split.tar.zst"), true, "split.tar.zst.000 is a directory"},
		{"empty", "", false, "no file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pack.CheckOutput(tt.path, tt.split)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckOutput(%q) = %v, want nil", tt.path, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, pack.ErrOutput)):
				t.Errorf("CheckOutput(%q) = %v, want an ErrOutput containing %q", tt.path, err, tt.want)
			}
		})
	}
}

// TestCreateChecksFirst: every refusal below happens before any network
// work (there is no upstream: the default client would fail differently).
func TestCreateChecksFirst(t *testing.T) {
	dir := t.TempDir()
	_, pubPath, err := signing.WriteKeyPair(dir, []byte("pw"), signing.KeyFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.LoadVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	ambient := manifests.Spec{Istio: manifests.IstioSpec{Version: "1.30", Profile: manifests.ProfileAmbient}}
	unsigned := mirror.PullOptions{AllowUnsigned: true}
	tests := []struct {
		name    string
		path    string
		opts    pack.Options
		wantIs  error
		wantMsg string
	}{
		{"missing directory", filepath.Join(dir, "no", "b.tar.zst"), pack.Options{Spec: ambient}, pack.ErrOutput, "does not exist"},
		{"bad policy", filepath.Join(dir, "b.tar.zst"), pack.Options{Spec: ambient, Create: mirror.CreateOptions{PullOptions: mirror.PullOptions{VerifyUpstream: "sometimes"}}},
			nil, `upstream verification policy "sometimes"`},
		{"unknown key", filepath.Join(dir, "b.tar.zst"), pack.Options{Spec: ambient, Create: mirror.CreateOptions{PullOptions: mirror.PullOptions{
			AllowUnsigned: true, UpstreamKeys: map[string]signing.Verifier{"nope": v}}}}, pack.ErrUnknownKey, `upstream key "nope"`},
		{"missing key", filepath.Join(dir, "b.tar.zst"), pack.Options{Spec: ambient, Create: mirror.CreateOptions{PullOptions: unsigned}},
			pack.ErrMissingKey, `image docker.io/istio/install-cni:1.30.3-distroless: upstream signs it with key "istio-release" (published at https://istio.io/misc/istio-key.pub)`},
		{"invalid spec", filepath.Join(dir, "b.tar.zst"), pack.Options{Spec: manifests.Spec{Istio: manifests.IstioSpec{Version: "1.30", Profile: "sidecars"}}}, nil, "sidecars"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pack.Create(context.Background(), tt.path, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Create: got %v, want an error (%v) containing %q", err, tt.wantIs, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("library error %q names a flag", err)
			}
		})
	}
}

func ExampleCheckOutput() {
	err := pack.CheckOutput("/nonexistent/dir/mesh.tar.zst", false)
	fmt.Println(err)
	fmt.Println(errors.Is(err, pack.ErrOutput))
	// Output:
	// /nonexistent/dir/mesh.tar.zst: cannot be written: directory /nonexistent/dir does not exist; create it first
	// true
}

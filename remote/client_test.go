package remote

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
)

func TestLocate(t *testing.T) {
	c, err := New(Options{Mirrors: manifests.Mirrors{
		{Origin: "quay.io", Replacement: "http://127.0.0.1:5000/quay.io"},
		{Origin: "gcr.io", Replacement: "mirror.example.com/gcr"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want  string
		plain     bool
		mirrored  bool
		wantError bool
	}{
		{"docker.io/istio/pilot:1.30.3", "https://registry-1.docker.io/istio/pilot:1.30.3", false, false, false},
		{"quay.io/kiali/kiali:v2.26.0", "http://127.0.0.1:5000/quay.io/kiali/kiali:v2.26.0", true, true, false},
		{"gcr.io/istio-release/charts/istiod:1.30.3", "https://mirror.example.com/gcr/istio-release/charts/istiod:1.30.3", false, true, false},
		{"ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64), "https://ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64), false, false, false},
		{"not a reference", "", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := c.Locate(context.Background(), tt.in)
			if tt.wantError {
				if err == nil {
					t.Fatalf("Locate(%q): got %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want || got.PlainHTTP != tt.plain || got.Mirrored != tt.mirrored {
				t.Errorf("Locate(%q) = %s plain=%v mirrored=%v; want %s plain=%v mirrored=%v", tt.in, got, got.PlainHTTP, got.Mirrored, tt.want, tt.plain, tt.mirrored)
			}
		})
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/charts/index.yaml":
			if rg := r.Header.Get("Range"); rg != "" {
				w.Header().Set("Content-Range", "bytes 6-9/10")
				w.WriteHeader(http.StatusPartialContent)
				io.WriteString(w, "yaml")
				return
			}
			io.WriteString(w, "index.yaml")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := New(Options{Mirrors: manifests.Mirrors{{Origin: "https://charts.example.com", Replacement: srv.URL + "/charts"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body, _, err := c.Get(ctx, "https://charts.example.com/index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "index.yaml" {
		t.Errorf("Get: got %q, want index.yaml", b)
	}
	body, _, err = c.GetRange(ctx, "https://charts.example.com/index.yaml", 6)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(body)
	body.Close()
	if string(b) != "yaml" {
		t.Errorf("GetRange: got %q, want yaml", b)
	}
	_, _, err = c.Get(ctx, "https://charts.example.com/missing.tgz")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "via mirror "+srv.URL) {
		t.Errorf("Get of a missing file: got %v, want ErrNotFound naming the mirror", err)
	}
	if _, _, err := c.Get(ctx, "ftp://example.com/x"); err == nil {
		t.Error("Get of an ftp URL: got no error")
	}
}

func TestPlainHTTPOnLoopbackIsDetected(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()
	c, err := New(Options{InsecureSkipTLSVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	hostOf := func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") }
	tests := []struct {
		name, ref string
		wantPlain bool
	}{
		{"plain loopback registry", hostOf(plain.URL) + "/mesh/istio/pilot:1.30.3", true},
		{"TLS loopback registry", hostOf(tlsSrv.URL) + "/mesh/istio/pilot:1.30.3", false},
		{"remote registry is never probed", "registry.example.com/mesh/pilot:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Locate(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got.PlainHTTP != tt.wantPlain {
				t.Errorf("Locate(%s).PlainHTTP = %v, want %v", tt.ref, got.PlainHTTP, tt.wantPlain)
			}
		})
	}
	repo, err := c.RepositoryAt(context.Background(), hostOf(plain.URL), "mesh/istio/pilot")
	if err != nil || !repo.PlainHTTP() {
		t.Errorf("RepositoryAt(plain loopback): PlainHTTP %v, err %v; want plain", repo != nil && repo.PlainHTTP(), err)
	}
}

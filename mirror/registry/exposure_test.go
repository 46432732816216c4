package registry_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestExposure checks which listen addresses New accepts without TLS and
// authentication, and the warnings for those InsecureListen allows.
func TestExposure(t *testing.T) {
	const lan = "10.0.0.5:5000"
	tests := []struct {
		name         string
		cfg          registry.Config
		noTLS        bool // refused for lacking TLS
		noAuth       bool // refused for lacking authentication
		wantWarnings []string
	}{
		{name: "default loopback", cfg: registry.Config{}},
		{name: "localhost", cfg: registry.Config{Addr: "localhost:5000"}},
		{name: "ipv6 loopback", cfg: registry.Config{Addr: "[::1]:5000"}},
		{name: "127.0.0.0/8", cfg: registry.Config{Addr: "127.1.2.3:5000"}},
		{name: "all interfaces", cfg: registry.Config{Addr: ":5000"}, noTLS: true, noAuth: true},
		{name: "0.0.0.0", cfg: registry.Config{Addr: "0.0.0.0:5000"}, noTLS: true, noAuth: true},
		{name: "lan address read-only", cfg: registry.Config{Addr: lan, ReadOnly: true}, noTLS: true, noAuth: true},
		{name: "lan address, TLS only", cfg: registry.Config{Addr: lan, TLSCert: "c.pem", TLSKey: "k.pem"}, noAuth: true},
		{name: "lan address, auth only", cfg: registry.Config{Addr: lan, Htpasswd: "htpasswd"}, noTLS: true},
		{name: "insecure listen", cfg: registry.Config{Addr: lan, InsecureListen: true},
			wantWarnings: []string{"plain HTTP", "anyone who can reach it can pull every image"}},
		{name: "insecure listen with pushes", cfg: registry.Config{Addr: lan, InsecureListen: true, AllowPush: true},
			wantWarnings: []string{"plain HTTP", "can pull and push images"}},
		{name: "insecure listen with pushes and deletes", cfg: registry.Config{Addr: ":5000", InsecureListen: true, AllowPush: true, AllowDelete: true},
			wantWarnings: []string{"plain HTTP", "can pull, push and delete images"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := registry.New(context.Background(), tt.cfg)
			if tt.noTLS || tt.noAuth {
				var e *registry.ExposureError
				if !errors.Is(err, registry.ErrInsecureListen) || !errors.As(err, &e) || e.NoTLS != tt.noTLS || e.NoAuth != tt.noAuth {
					t.Fatalf("New = %v, want an *ExposureError with NoTLS %v, NoAuth %v", err, tt.noTLS, tt.noAuth)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer srv.Close()
			got := srv.Warnings()
			if len(got) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, want %d", got, len(tt.wantWarnings))
			}
			for i, w := range tt.wantWarnings {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestWritePolicy checks that deletes are refused unless AllowDelete, and
// that an InsecureListen registry is read-only unless AllowPush.
func TestWritePolicy(t *testing.T) {
	const lan = "10.0.0.5:5000" // only decides the policy; registrytest listens on 127.0.0.1
	tests := []struct {
		name     string
		cfg      registry.Config
		pushOK   bool
		deleteOK bool
	}{
		{name: "default", cfg: registry.Config{}, pushOK: true},
		{name: "allow delete", cfg: registry.Config{AllowDelete: true}, pushOK: true, deleteOK: true},
		{name: "insecure listen", cfg: registry.Config{Addr: lan, InsecureListen: true}},
		{name: "insecure listen, allow push", cfg: registry.Config{Addr: lan, InsecureListen: true, AllowPush: true}, pushOK: true},
		{name: "insecure listen, allow push and delete", cfg: registry.Config{Addr: lan, InsecureListen: true, AllowPush: true, AllowDelete: true}, pushOK: true, deleteOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := repo(t, registrytest.NewWithConfig(t, tt.cfg), "istio/pilot")
			layer := []byte("layer")
			err := r.Push(ctx, content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayerGzip, layer), bytes.NewReader(layer))
			if (err == nil) != tt.pushOK {
				t.Fatalf("push: %v, want success %v", err, tt.pushOK)
			}
			if !tt.pushOK {
				return
			}
			m := pushImage(ctx, t, r, "amd64", ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip)
			m.Platform = nil
			if err := r.Delete(ctx, m); (err == nil) != tt.deleteOK {
				t.Errorf("delete manifest: %v, want success %v", err, tt.deleteOK)
			}
		})
	}
}

// addrListener is a loopback listener that reports another address, to
// test what Serve does with one other hosts could reach.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }

// TestServeExposure checks that Serve applies the same rules as New to the
// listener it is given.
func TestServeExposure(t *testing.T) {
	lan := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 5000}
	tests := []struct {
		name string
		cfg  registry.Config
		want error
	}{
		{name: "no TLS, no auth", cfg: registry.Config{}, want: registry.ErrInsecureListen},
		{name: "insecure listen, built for loopback with pushes", cfg: registry.Config{InsecureListen: true}, want: registry.ErrInsecureListen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := registry.New(context.Background(), tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if err := srv.Serve(context.Background(), addrListener{ln, lan}); !errors.Is(err, tt.want) {
				t.Errorf("Serve on %s = %v, want %v", lan, err, tt.want)
			}
		})
	}
}

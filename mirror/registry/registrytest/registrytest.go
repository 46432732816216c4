// Package registrytest starts the embedded CNCF Distribution registry for
// tests: the same code `meshpack registry serve` runs, on 127.0.0.1 with a
// random port, torn down when the test ends. It is the test registry for
// every meshpack package.
package registrytest

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

// New starts a registry storing blobs below t.TempDir() and returns its
// host:port (plain HTTP; clients need PlainHTTP). It is closed on cleanup.
func New(t testing.TB) (host string) {
	t.Helper()
	return NewWithConfig(t, registry.Config{Root: t.TempDir()})
}

// NewWithConfig starts a registry configured by cfg (cfg.Root "" is the
// in-memory driver; cfg.Addr is ignored) and returns its host:port. With
// cfg.TLSCert and cfg.TLSKey set it serves HTTPS with that key pair.
func NewWithConfig(t testing.TB, cfg registry.Config) (host string) {
	t.Helper()
	srv, err := registry.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	if cfg.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			t.Fatalf("registrytest: %v", err)
		}
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("registrytest: %v", err)
		}
	})
	u := ts.URL
	u = strings.TrimPrefix(u, "https://")
	return strings.TrimPrefix(u, "http://")
}

package mirror_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/remote"
)

// misbehave answers the requests a lying or stopped registry gets wrong and
// reports whether it did.
func (p *faultProxy) misbehave(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case p.hang != "" && r.Method == p.hang && strings.Contains(r.URL.Path, "/blobs/uploads/"):
		// Neither read the body nor answer: take the connection from the
		// server (which would wait for it on Close) and hold it a while.
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			time.AfterFunc(time.Minute, func() { conn.Close() })
		}
		return true
	case p.lieHead && r.Method == http.MethodHead && (strings.Contains(r.URL.Path, "/blobs/sha256:") || strings.Contains(r.URL.Path, "/manifests/sha256:")):
		w.Header().Set("Docker-Content-Digest", path.Base(r.URL.Path))
		w.Header().Set("Content-Length", "1")
		w.WriteHeader(http.StatusOK)
		return true
	case p.authPush && r.Method != http.MethodGet && r.Method != http.MethodHead:
		// Anonymous reads, authenticated writes.
		w.Header().Set("WWW-Authenticate", `Basic realm="push"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	case p.dropManifests && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(body).String())
		w.WriteHeader(http.StatusCreated)
		return true
	}
	return false
}

// blackHole accepts TCP connections and never answers; it returns its
// host:port.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a loopback host:port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// authRegistry starts the embedded registry with basic auth (admin:s3cret).
func authRegistry(t *testing.T) string {
	t.Helper()
	htpasswd := registrytest.Htpasswd(t, "admin", "s3cret")
	return registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd})
}

// noDockerConfig is an empty docker config, so that the tests never pick up
// the credentials of the machine they run on.
func noDockerConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadRegistryFailures loads into registries that are not there, stop
// answering, want credentials or lie: each load must fail within a bounded
// time with an error that names the registry and says what went wrong,
// never report success.
func TestLoadRegistryFailures(t *testing.T) {
	const fast = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		// start returns the target host and the client options.
		start     func(t *testing.T) (string, remote.Options)
		layerSize int
		// concurrency 1 uploads the layer (the largest blob) first.
		concurrency int
		wantErr     error
		want        []string
		within      time.Duration
	}{
		{"black hole", func(t *testing.T) (string, remote.Options) {
			return blackHole(t), remote.Options{StallTimeout: time.Second}
		}, 64, 0, remote.ErrStalled, []string{"did not answer within 1s", "accepts connections but sends nothing", "nothing was pushed"}, 10 * time.Second},
		{"connection refused", func(t *testing.T) (string, remote.Options) {
			return closedPort(t), remote.Options{}
		}, 64, 0, remote.ErrUnreachable, []string{"is not reachable", "connection refused", "nothing was pushed"}, 5 * time.Second},
		{"401 without credentials", func(t *testing.T) (string, remote.Options) {
			return authRegistry(t), remote.Options{DockerConfig: noDockerConfig(t)}
		}, 64, 0, mirror.ErrUnauthorized, []string{"requires credentials and none are configured", "remote.Options.Username and Password", "docker config", "nothing was pushed"}, 3 * time.Second},
		{"401 on push without credentials", func(t *testing.T) (string, remote.Options) {
			return startProxy(t, &faultProxy{authPush: true}), remote.Options{DockerConfig: noDockerConfig(t)}
		}, 64, 0, mirror.ErrUnauthorized, []string{"requires credentials and none are configured", "remote.Options.Username and Password", "blob sha256:"}, 3 * time.Second},
		{"credentials rejected", func(t *testing.T) (string, remote.Options) {
			return authRegistry(t), remote.Options{Username: "admin", Password: "guess"}
		}, 64, 0, mirror.ErrUnauthorized, []string{"rejected the credentials", "user admin", "remote.Options.Username and Password", "nothing was pushed"}, 3 * time.Second},
		{"HEAD says every blob exists", func(t *testing.T) (string, remote.Options) {
			return startProxy(t, &faultProxy{lieHead: true}), remote.Options{}
		}, 64, 0, mirror.ErrRegistryInconsistent, []string{"registry says blob sha256:", "exists", "HEAD answered 200", "answers HEAD wrongly"}, 10 * time.Second},
		{"manifest PUT not stored", func(t *testing.T) (string, remote.Options) {
			return startProxy(t, &faultProxy{dropManifests: true}), remote.Options{}
		}, 64, 0, mirror.ErrRegistryInconsistent, []string{"accepted manifest", "did not store it"}, 10 * time.Second},
		{"upload never answered", func(t *testing.T) (string, remote.Options) {
			return startProxy(t, &faultProxy{hang: http.MethodPost}), remote.Options{StallTimeout: fast, ResponseTimeout: fast}
		}, 64, 0, remote.ErrStalled, []string{"gave up after 2 stalled attempts", "while waiting for the response", "blob sha256:"}, 10 * time.Second},
		{"upload body never read", func(t *testing.T) (string, remote.Options) {
			return startProxy(t, &faultProxy{hang: http.MethodPut}), remote.Options{StallTimeout: fast, ResponseTimeout: fast}
		}, 48 << 20, 1, remote.ErrStalled, []string{"gave up after 2 stalled attempts", "no progress for 500ms", "blob sha256:"}, 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, copts := tc.start(t)
			r := simpleImage("app/web", "1.0", tc.layerSize).open(t)
			start := time.Now()
			res, err := mirror.Load(context.Background(), r, host+"/mesh", mirror.LoadOptions{
				Client: plainClient(t, copts), AllowUnsigned: true, Logger: testLogger(), Backoff: 10 * time.Millisecond, Concurrency: tc.concurrency,
			})
			took := time.Since(start)
			t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want an error", res)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got error %v, want one matching %v", err, tc.wantErr)
			}
			for _, w := range append(tc.want, host) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if took > tc.within {
				t.Errorf("failed after %v, want within %v", took, tc.within)
			}
		})
	}
}

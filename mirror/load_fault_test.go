package mirror_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/remote"
)

// faultProxy wraps the embedded registry's handler and breaks blob uploads
// the ways networks and registries do.
type faultProxy struct {
	next http.Handler
	// every Nth upload request (POST, PATCH or PUT) gets a 503 without
	// reaching the registry; every Mth PUT reaches it with only half of its
	// body and the client gets a 502 (the registry keeps the half).
	fail503, truncate int
	// refuseMonolithic answers 413 to a PUT that carries data without a
	// Content-Range, like a proxy with a body size limit.
	refuseMonolithic bool
	// rate, when set, reads upload bodies at about this many bytes per
	// second, like a slow link.
	rate int64
	// lieHead, dropManifests, authPush and hang (an upload method to hold)
	// make the registry lie, want credentials or stop; see misbehave in
	// load_registry_test.go.
	lieHead, dropManifests, authPush bool
	hang                             string

	mu                         sync.Mutex
	uploads, puts              int
	failed, truncated, refused int
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.misbehave(w, r) {
		return
	}
	if !strings.Contains(r.URL.Path, "/blobs/uploads/") || r.Method == http.MethodGet {
		p.next.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	p.uploads++
	n := p.uploads
	if r.Method == http.MethodPut {
		p.puts++
	}
	puts := p.puts
	p.mu.Unlock()
	switch {
	case p.refuseMonolithic && r.Method == http.MethodPut && r.ContentLength > 0 && r.Header.Get("Content-Range") == "":
		p.count(&p.refused)
		http.Error(w, "request entity too large", http.StatusRequestEntityTooLarge)
	case p.fail503 > 0 && n%p.fail503 == 0:
		p.count(&p.failed)
		http.Error(w, "injected failure", http.StatusServiceUnavailable)
	case p.truncate > 0 && r.Method == http.MethodPut && r.ContentLength > 2 && puts%p.truncate == 0:
		p.count(&p.truncated)
		r.Body = io.NopCloser(io.MultiReader(io.LimitReader(r.Body, r.ContentLength/2), errReader{}))
		p.next.ServeHTTP(httptest.NewRecorder(), r)
		http.Error(w, "injected network loss", http.StatusBadGateway)
	default:
		if p.rate > 0 && r.ContentLength > 0 {
			r.Body = &slowReader{r: r.Body, rate: p.rate}
		}
		p.next.ServeHTTP(w, r)
	}
}

// slowReader reads at about rate bytes per second, in 32 KiB steps.
type slowReader struct {
	r    io.ReadCloser
	rate int64
}

func (s *slowReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b[:min(len(b), 32<<10)])
	time.Sleep(time.Duration(int64(n) * int64(time.Second) / s.rate))
	return n, err
}

func (s *slowReader) Close() error { return s.r.Close() }

func (p *faultProxy) count(c *int) {
	p.mu.Lock()
	*c++
	p.mu.Unlock()
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// startProxy serves the embedded registry behind p on 127.0.0.1.
func startProxy(t *testing.T, p *faultProxy) string {
	t.Helper()
	return serveRegistryBehind(t, func(next http.Handler) http.Handler {
		p.next = next
		return p
	})
}

// serveRegistryBehind serves the embedded registry on 127.0.0.1 behind the
// handler wrap returns for it (a proxy that breaks or watches requests)
// and returns HOST:PORT.
func serveRegistryBehind(t *testing.T, wrap func(next http.Handler) http.Handler) string {
	t.Helper()
	srv, err := registry.New(context.Background(), registry.Config{Root: t.TempDir(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(wrap(srv.Handler()))
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return strings.TrimPrefix(ts.URL, "http://")
}

// TestLoadFaults loads through a proxy that fails uploads with 503, cuts
// bodies half way or refuses monolithic uploads: the load must complete
// with every digest right.
func TestLoadFaults(t *testing.T) {
	f := sharedBundle(t)
	for _, tc := range []struct {
		name  string
		proxy *faultProxy
		check func(*testing.T, *faultProxy, *mirror.LoadResult)
	}{
		{"503 on every 5th upload request", &faultProxy{fail503: 5}, func(t *testing.T, p *faultProxy, _ *mirror.LoadResult) {
			if p.failed == 0 {
				t.Error("got no injected 503s, want some")
			}
		}},
		{"every 8th PUT cut half way", &faultProxy{truncate: 8}, func(t *testing.T, p *faultProxy, res *mirror.LoadResult) {
			if p.truncated == 0 || res.UploadsResumed == 0 {
				t.Errorf("got %d cut uploads and %d resumed, want both > 0", p.truncated, res.UploadsResumed)
			}
		}},
		{"monolithic PUT refused", &faultProxy{refuseMonolithic: true}, func(t *testing.T, p *faultProxy, _ *mirror.LoadResult) {
			if p.refused == 0 {
				t.Error("got no refused PUTs, want the first to be refused")
			}
			if p.refused > mirror.DefaultLoadConcurrency {
				t.Errorf("got %d refused PUTs, want at most one per concurrent upload before switching to chunks", p.refused)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host := startProxy(t, tc.proxy)
			res, err := mirror.Load(context.Background(), f.open(t), host+"/mesh", mirror.LoadOptions{
				Client: plainClient(t, clientOpts()), SkipVerify: true, Logger: testLogger(), Backoff: 20 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.check(t, tc.proxy, res)
			checkArtifacts(t, host, keepUnder("mesh"), f.bom, res)
		})
	}
}

// TestLoadChunked forces chunked uploads into Debian's docker-registry.
func TestLoadChunked(t *testing.T) {
	f := sharedBundle(t)
	host := debianRegistry(t)
	res, err := mirror.Load(context.Background(), f.open(t), host+"/mesh", mirror.LoadOptions{
		Client: plainClient(t, clientOpts()), SkipVerify: true, ChunkSize: 256 << 10,
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkArtifacts(t, host, keepUnder("mesh"), f.bom, res)
}

// TestLoadAuth loads into a registry with basic auth.
func TestLoadAuth(t *testing.T) {
	f := sharedBundle(t)
	htpasswd := registrytest.Htpasswd(t, "admin", "s3cret")
	host := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd})
	for _, tc := range []struct {
		name, password string
		wantErr        error
	}{
		{"wrong password", "guess", mirror.ErrUnauthorized},
		{"right password", "s3cret", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := plainClient(t, remote.Options{Username: "admin", Password: tc.password})
			res, err := mirror.Load(context.Background(), f.open(t), host+"/mesh", mirror.LoadOptions{Client: c, SkipVerify: true})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "remote.Options.Username and Password") {
					t.Errorf("got error %q, want it to name the credential options", err)
				}
				return
			}
			checkArtifacts(t, host, keepUnder("mesh"), f.bom, res, auth.Credential{Username: "admin", Password: "s3cret"})
		})
	}
}

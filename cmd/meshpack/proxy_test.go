package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// forwardProxy is a tiny HTTP forward proxy on 127.0.0.1: it serves
// absolute-URI requests (what clients send for http:// through
// HTTP_PROXY), resolving every host itself to 127.0.0.1 on the requested
// port, and records the hosts it was asked for.
type forwardProxy struct {
	mu    sync.Mutex
	hosts []string
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Host == "" || r.Method == http.MethodConnect {
		http.Error(w, "forward proxy: absolute http:// URIs only", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.hosts = append(p.hosts, r.URL.Host)
	p.mu.Unlock()
	_, port, err := net.SplitHostPort(r.URL.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Host = net.JoinHostPort("127.0.0.1", port)
	resp, err := (&http.Transport{}).RoundTrip(out) // no Proxy: never loops back here
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// requested returns the hosts the proxy was asked for.
func (p *forwardProxy) requested() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...)
}

// TestProxyE2E runs `meshpack resolve --plain-http` as its own process with
// HTTP_PROXY set against a registry named registry.test:PORT, a name only
// the proxy resolves (to 127.0.0.1): the resolve succeeds and the proxy saw
// its requests, so meshpack used the proxy. (Go never proxies "localhost"
// or 127.0.0.1, hence the name.) With the name in NO_PROXY meshpack goes
// direct and fails to resolve it.
func TestProxyE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := registrytest.New(t)
	refs := pushAuthImages(ctx, t, reg, auth.EmptyCredential)
	_, port, err := net.SplitHostPort(reg)
	if err != nil {
		t.Fatal(err)
	}
	name := "registry.test:" + port
	proxy := &forwardProxy{}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(v, "")
	}
	t.Setenv("HTTP_PROXY", srv.URL)
	t.Setenv("http_proxy", srv.URL)
	tests := []struct {
		name     string
		noProxy  string
		wantCode int
		proxied  bool
	}{
		{"through the proxy", "internal.example", 0, true},
		{"host in NO_PROXY goes direct", "internal.example,registry.test", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_PROXY", tt.noProxy)
			t.Setenv("no_proxy", tt.noProxy)
			before := len(proxy.requested())
			image := strings.Replace(refs[0], reg, name, 1)
			stdout, stderr, code := runPiped(t, "", "resolve", "--plain-http", "--istio", "none", "--image", image)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tt.wantCode, lastLinesOf(stderr, 6))
			}
			seen := proxy.requested()[before:]
			if tt.proxied != (len(seen) > 0) {
				t.Fatalf("proxy saw %v, want proxied=%v", seen, tt.proxied)
			}
			for _, h := range seen {
				if h != name {
					t.Errorf("proxy asked for %q, want %q", h, name)
				}
			}
			if tt.proxied && !strings.Contains(stdout, name+"/team/app:1") || tt.proxied && !strings.Contains(stdout, "sha256:") {
				t.Errorf("lock does not pin %s:\n%s", image, stdout)
			}
		})
	}
}

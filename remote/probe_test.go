package remote

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPing probes fake registries: healthy, protected (with no, wrong and
// right credentials), not a registry, failing, silent and absent. A 401 is
// asked once; a silent one fails within the stall timeout.
func TestPing(t *testing.T) {
	emptyConfig := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(emptyConfig, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	basic := func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "admin" && p == "s3cret" {
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc // nil: nothing listens
		opts      Options
		wantErr   error
		wantCalls int64 // requests the server saw; 0: do not check
	}{
		{"healthy", func(http.ResponseWriter, *http.Request) {}, Options{}, nil, 1},
		{"401 without credentials", basic, Options{DockerConfig: emptyConfig}, ErrNoCredentials, 1},
		{"401 with wrong credentials", basic, Options{Username: "admin", Password: "guess"}, ErrCredentialsRejected, 3},
		{"401 with right credentials", basic, Options{Username: "admin", Password: "s3cret"}, nil, 3},
		{"not a registry", http.NotFound, Options{}, ErrNotRegistry, 1},
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, Options{}, ErrUnreachable, pingAttempts},
		{"silent", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, Options{StallTimeout: 300 * time.Millisecond}, ErrStalled, 1},
		{"nothing listening", nil, Options{}, ErrUnreachable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			host := ""
			if tc.handler != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					tc.handler(w, r)
				}))
				defer srv.Close()
				host = strings.TrimPrefix(srv.URL, "http://")
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				host = ln.Addr().String()
				ln.Close()
			}
			tc.opts.PlainHTTP = true
			c, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = c.Ping(context.Background(), host)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Ping: got %v, want %v", err, tc.wantErr)
			}
			if tc.wantCalls > 0 && calls.Load() != tc.wantCalls {
				t.Errorf("server saw %d requests, want %d", calls.Load(), tc.wantCalls)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Ping took %v", took)
			}
		})
	}
}

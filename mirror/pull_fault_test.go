package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/remote"
)

// pullFault is how pullFaultProxy breaks the GETs of one blob.
type pullFault int

const (
	// faultCut sends the headers (full Content-Length) and half of the
	// body, then closes the connection.
	faultCut pullFault = iota + 1
	// faultReset sends half of the body, then resets the connection (RST).
	faultReset
	// fault503 answers 503 without asking the registry.
	fault503
	// fault429 answers 429 Too Many Requests with Retry-After.
	fault429
	// fault403 answers 403 Forbidden (not worth a retry).
	fault403
	// faultSlowHeaders waits before the response headers.
	faultSlowHeaders
	// faultSlowBody sends the headers at once and the first body byte late.
	faultSlowBody
	// faultWrongBytes sends a body of the right length, with the right
	// headers (Docker-Content-Digest included), with one byte flipped.
	faultWrongBytes
)

// pullFaultProxy serves a registry handler and breaks the GETs of one
// blob, the ways networks, proxies and registries do.
type pullFaultProxy struct {
	next  http.Handler
	blob  digest.Digest
	fault pullFault
	// times is how many GETs of blob to break (first ones); negative: all.
	times int
	// retryAfter is the Retry-After value of fault429.
	retryAfter string
	// delay is how late faultSlowHeaders and faultSlowBody answer.
	delay time.Duration

	mu     sync.Mutex
	gets   []time.Time // when each GET of blob arrived
	broken []time.Time // when each broken answer ended
}

func (p *pullFaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+p.blob.String()) {
		p.next.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	p.gets = append(p.gets, time.Now())
	brk := p.times < 0 || len(p.gets) <= p.times
	p.mu.Unlock()
	if !brk {
		p.next.ServeHTTP(w, r)
		return
	}
	defer func() {
		p.mu.Lock()
		p.broken = append(p.broken, time.Now())
		p.mu.Unlock()
	}()
	switch p.fault {
	case fault503:
		registryError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "injected: service unavailable")
		return
	case fault429:
		w.Header().Set("Retry-After", p.retryAfter)
		registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "injected: too many requests")
		return
	case fault403:
		registryError(w, http.StatusForbidden, "DENIED", "injected: requested access to the resource is denied")
		return
	case faultSlowHeaders:
		if !sleepOrDone(r.Context(), p.delay) {
			return
		}
		p.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	rc := http.NewResponseController(w)
	switch p.fault {
	case faultWrongBytes:
		body = bytes.Clone(body)
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	case faultSlowBody:
		w.WriteHeader(rec.Code)
		_ = rc.Flush()
		if sleepOrDone(r.Context(), p.delay) {
			_, _ = w.Write(body)
		}
	case faultCut, faultReset:
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		_ = rc.Flush()
		if p.fault == faultCut {
			panic(http.ErrAbortHandler) // the server closes the connection
		}
		conn, _, err := rc.Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close with RST
		}
		conn.Close()
	}
}

// registryError answers like a distribution registry does.
func registryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// sleepOrDone waits d or until ctx ends; it reports whether d passed.
func sleepOrDone(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// stats returns the GETs of the blob and the broken answers so far.
func (p *pullFaultProxy) stats() (gets, broken []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.gets...), append([]time.Time(nil), p.broken...)
}

// pullUpstream is an embedded registry holding team/app:1: a 3 MiB layer
// (the one the faults hit) and a 512 KiB one.
type pullUpstream struct {
	handler http.Handler
	img     testImage
}

func startPullUpstream(t *testing.T) *pullUpstream {
	t.Helper()
	srv, err := registry.New(context.Background(), registry.Config{Root: t.TempDir(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	img := pushTestImage(ctx, t, strings.TrimPrefix(ts.URL, "http://"), "team/app", "1", nil,
		seededBytes(1, 3<<20), seededBytes(2, 512<<10))
	return &pullUpstream{handler: srv.Handler(), img: img}
}

// pullTestClient is a client for plain-HTTP loopback registries.
func pullTestClient(t testing.TB, opts remote.Options) *remote.Client {
	t.Helper()
	opts.PlainHTTP = true
	opts.Logger = testLogger()
	c, err := remote.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPullFaults creates a bundle from a real registry through a proxy that
// breaks the download of one layer: cut mid-blob, reset, 5xx, 429 with
// Retry-After, a slow first byte, wrong bytes, a refusal. Each create must
// either resume and publish a bundle that validates with every blob's bytes
// right, or fail with an error naming the blob's digest and leave no file
// behind, in bounded time.
func TestPullFaults(t *testing.T) {
	up := startPullUpstream(t)
	layer := up.img.layers[0]
	for _, tc := range []struct {
		name  string
		proxy *pullFaultProxy
		copts remote.Options
		// wantErr, when set, is what the create must fail with; want are
		// texts the error must contain besides the layer digest.
		wantErr error
		want    []string
		// check looks at the GETs of the layer and the broken answers.
		check  func(t *testing.T, gets, broken []time.Time)
		within time.Duration
	}{
		{name: "body cut mid-blob once", proxy: &pullFaultProxy{fault: faultCut, times: 1},
			check: resumed, within: 20 * time.Second},
		{name: "body cut on every attempt", proxy: &pullFaultProxy{fault: faultCut, times: -1},
			wantErr: errAny, within: 30 * time.Second},
		{name: "connection reset mid-blob", proxy: &pullFaultProxy{fault: faultReset, times: 1},
			check: resumed, within: 20 * time.Second},
		{name: "503 twice", proxy: &pullFaultProxy{fault: fault503, times: 2},
			check: getsAtLeast(3), within: 20 * time.Second},
		{name: "429 with Retry-After 1", proxy: &pullFaultProxy{fault: fault429, times: 1, retryAfter: "1"},
			check: waitedBetween(time.Second, 10*time.Second), within: 20 * time.Second},
		{name: "429 with Retry-After one hour", proxy: &pullFaultProxy{fault: fault429, times: 1, retryAfter: "3600"},
			check: waitedBetween(time.Second, 20*time.Second), within: 40 * time.Second},
		{name: "slow first byte within the response timeout", proxy: &pullFaultProxy{fault: faultSlowHeaders, times: 1, delay: time.Second},
			copts: remote.Options{ResponseTimeout: 10 * time.Second}, check: getsExactly(1), within: 20 * time.Second},
		{name: "headers later than the response timeout", proxy: &pullFaultProxy{fault: faultSlowHeaders, times: 1, delay: 5 * time.Second},
			copts: remote.Options{ResponseTimeout: time.Second}, check: getsAtLeast(2), within: 20 * time.Second},
		{name: "body stalls before its first byte", proxy: &pullFaultProxy{fault: faultSlowBody, times: 1, delay: 5 * time.Second},
			copts: remote.Options{StallTimeout: time.Second}, check: getsAtLeast(2), within: 20 * time.Second},
		{name: "wrong bytes for the digest", proxy: &pullFaultProxy{fault: faultWrongBytes, times: 1},
			wantErr: bundle.ErrDigestMismatch, want: []string{"digest mismatch"}, within: 20 * time.Second},
		{name: "403 on the blob", proxy: &pullFaultProxy{fault: fault403, times: -1},
			wantErr: errAny, want: []string{"403"}, within: 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the timing checks below (retry waits, response
			// timeouts) must not compete with each other for 2 cores.
			p := tc.proxy
			p.next, p.blob = up.handler, layer.Digest
			ps := httptest.NewServer(p)
			t.Cleanup(ps.Close)
			host := strings.TrimPrefix(ps.URL, "http://")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			ref := host + "/team/app:1"
			lock := resolveTestLock(ctx, t, pullTestClient(t, remote.Options{}), ref)

			dir := t.TempDir()
			out := filepath.Join(dir, "app.tar.zst")
			start := time.Now()
			res, err := mirror.Create(ctx, lock, out, mirror.CreateOptions{PullOptions: mirror.PullOptions{
				Client: pullTestClient(t, tc.copts), AllowUnsigned: true, Concurrency: 2, Logger: testLogger(),
			}})
			took := time.Since(start)
			// Wait for the proxy's handlers to end: one that sent wrong
			// bytes may still be recording its broken answer when the
			// client has already failed on them.
			ps.Close()
			gets, broken := p.stats()
			t.Logf("create took %v, %d GETs of the layer, %d broken; error: %v", took.Round(time.Millisecond), len(gets), len(broken), err)
			if len(broken) == 0 {
				t.Errorf("no answer was broken: the fault was not injected")
			}
			if took > tc.within {
				t.Errorf("create took %v, want at most %v", took, tc.within)
			}
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("create succeeded (%d blobs), want it to fail", res.Blobs)
				}
				if tc.wantErr != errAny && !errors.Is(err, tc.wantErr) {
					t.Errorf("got error %v, want one matching %v", err, tc.wantErr)
				}
				for _, w := range append(tc.want, layer.Digest.String()) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not say %q: %v", w, err)
					}
				}
				requireNothingWritten(t, dir)
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			checkCreatedBundle(ctx, t, out, up.img)
			if tc.check != nil {
				tc.check(t, gets, broken)
			}
		})
	}
}

// errAny as a wanted error accepts any error.
var errAny = errors.New("any error")

// resumed requires a second GET after the broken one: the download went on.
func resumed(t *testing.T, gets, broken []time.Time) {
	t.Helper()
	getsAtLeast(2)(t, gets, broken)
}

func getsAtLeast(n int) func(*testing.T, []time.Time, []time.Time) {
	return func(t *testing.T, gets, _ []time.Time) {
		t.Helper()
		if len(gets) < n {
			t.Errorf("got %d GETs of the layer, want at least %d", len(gets), n)
		}
	}
}

func getsExactly(n int) func(*testing.T, []time.Time, []time.Time) {
	return func(t *testing.T, gets, _ []time.Time) {
		t.Helper()
		if len(gets) != n {
			t.Errorf("got %d GETs of the layer, want %d (no retry)", len(gets), n)
		}
	}
}

// waitedBetween requires the GET after the first broken answer to come at
// least lo and at most hi after it.
func waitedBetween(lo, hi time.Duration) func(*testing.T, []time.Time, []time.Time) {
	return func(t *testing.T, gets, broken []time.Time) {
		t.Helper()
		if len(gets) < 2 || len(broken) == 0 {
			t.Fatalf("got %d GETs and %d broken answers, want a retry after the first", len(gets), len(broken))
		}
		wait := gets[1].Sub(broken[0])
		t.Logf("waited %v before asking again", wait.Round(time.Millisecond))
		if wait < lo || wait > hi {
			t.Errorf("waited %v before asking again, want between %v and %v", wait, lo, hi)
		}
	}
}

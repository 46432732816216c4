package registry

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/auth"
	"golang.org/x/crypto/bcrypt"
)

// countingController counts the checks it passes to Distribution's htpasswd
// controller: each check of a Basic header is exactly one bcrypt comparison.
type countingController struct {
	inner auth.AccessController
	calls atomic.Int64
}

// Authorized implements auth.AccessController.
func (c *countingController) Authorized(req *http.Request, access ...auth.Access) (*auth.Grant, error) {
	c.calls.Add(1)
	return c.inner.Authorized(req, access...)
}

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// writeHtpasswd writes an htpasswd file with one bcrypt (cost cost) entry
// per user:password pair and stamps it with mtime.
func writeHtpasswd(tb testing.TB, path string, cost int, mtime time.Time, users map[string]string) {
	tb.Helper()
	var data []byte
	for user, pass := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), cost)
		if err != nil {
			tb.Fatalf("bcrypt: %v", err)
		}
		data = append(data, user+":"+string(hash)+"\n"...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("write htpasswd: %v", err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		tb.Fatalf("chtimes htpasswd: %v", err)
	}
}

// newTestCache returns a caching controller over Distribution's htpasswd
// controller for file, the counter between them, and its clock.
func newTestCache(t *testing.T, file string, size int) (*cachingHtpasswd, *countingController, *fakeClock) {
	t.Helper()
	inner, err := auth.GetAccessController("htpasswd", map[string]any{"realm": "test", "path": file})
	if err != nil {
		t.Fatalf("htpasswd controller: %v", err)
	}
	counter := &countingController{inner: inner}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c, err := newCache(counter, file, defaultAuthCacheTTL, size, clock.now)
	if err != nil {
		t.Fatalf("new cache: %v", err)
	}
	return c, counter, clock
}

// authorize runs one request with the given credentials (none when user is
// empty) through ac and reports whether it was granted, and to whom.
func authorize(ac auth.AccessController, user, pass string) (string, bool) {
	req := httptest.NewRequest(http.MethodHead, "/v2/", nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	g, err := ac.Authorized(req)
	if err != nil {
		return "", false
	}
	return g.User.Name, true
}

// step is one request in a TestHtpasswdCache scenario.
type step struct {
	advance   time.Duration     // clock advance before the request
	rewrite   map[string]string // new htpasswd content before the request
	user      string
	pass      string
	wantOK    bool
	wantCalls int64 // bcrypt checks so far, including this request
}

func TestHtpasswdCache(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "right password is cached", steps: []step{
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
		}},
		{name: "wrong password right after a right one", steps: []step{
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
			{user: "admin", pass: "nope", wantCalls: 2},
			{user: "admin", pass: "nope", wantCalls: 3},
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 3},
		}},
		{name: "unknown user and no header", steps: []step{
			{user: "eve", pass: "s3cret", wantCalls: 1},
			{user: "eve", pass: "s3cret", wantCalls: 2},
			{wantCalls: 3},
		}},
		{name: "expiry", steps: []step{
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
			{advance: 59 * time.Second, user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
			{advance: time.Second, user: "admin", pass: "s3cret", wantOK: true, wantCalls: 2},
			{advance: 30 * time.Second, user: "admin", pass: "s3cret", wantOK: true, wantCalls: 2},
		}},
		{name: "file change flushes", steps: []step{
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
			{rewrite: map[string]string{"admin": "n3w"}, user: "admin", pass: "s3cret", wantCalls: 2},
			{user: "admin", pass: "n3w", wantOK: true, wantCalls: 3},
			{user: "admin", pass: "n3w", wantOK: true, wantCalls: 3},
		}},
		{name: "user removed", steps: []step{
			{user: "admin", pass: "s3cret", wantOK: true, wantCalls: 1},
			{rewrite: map[string]string{"other": "x"}, user: "admin", pass: "s3cret", wantCalls: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "htpasswd")
			mtime := time.Unix(1_600_000_000, 0)
			writeHtpasswd(t, file, bcrypt.MinCost, mtime, map[string]string{"admin": "s3cret"})
			c, counter, clock := newTestCache(t, file, defaultAuthCacheSize)
			for i, s := range tt.steps {
				clock.advance(s.advance)
				if s.rewrite != nil {
					mtime = mtime.Add(time.Second)
					writeHtpasswd(t, file, bcrypt.MinCost, mtime, s.rewrite)
				}
				name, ok := authorize(c, s.user, s.pass)
				if ok != s.wantOK || (ok && name != s.user) {
					t.Errorf("step %d (%s): got granted=%v user %q, want granted=%v user %q", i, s.user, ok, name, s.wantOK, s.user)
				}
				if got := counter.calls.Load(); got != s.wantCalls {
					t.Errorf("step %d: got %d bcrypt checks so far, want %d", i, got, s.wantCalls)
				}
			}
		})
	}
}

// TestHtpasswdCacheAgreesWithDistribution checks that the cached and the
// plain controller accept and refuse the same requests.
func TestHtpasswdCacheAgreesWithDistribution(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, file, bcrypt.MinCost, time.Unix(1_600_000_000, 0), map[string]string{"admin": "s3cret"})
	cached, counter, _ := newTestCache(t, file, defaultAuthCacheSize)
	controllers := map[string]auth.AccessController{"cached": cached, "uncached": counter.inner}
	requests := []struct {
		user, pass string
		wantOK     bool
	}{
		{user: "admin", pass: "s3cret", wantOK: true},
		{user: "admin", pass: "nope"},
		{user: "admin", pass: "s3cret", wantOK: true},
		{user: "admin", pass: "s3cret "},
		{user: "Admin", pass: "s3cret"},
		{},
	}
	for name, ac := range controllers {
		for i, r := range requests {
			if _, ok := authorize(ac, r.user, r.pass); ok != r.wantOK {
				t.Errorf("%s request %d (%q:%q): got granted=%v, want %v", name, i, r.user, r.pass, ok, r.wantOK)
			}
		}
	}
}

// TestHtpasswdCacheBcryptCount sends 100 requests with the same header and
// counts bcrypt checks.
func TestHtpasswdCacheBcryptCount(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, file, bcrypt.MinCost, time.Unix(1_600_000_000, 0), map[string]string{"admin": "s3cret"})
	c, counter, _ := newTestCache(t, file, defaultAuthCacheSize)
	for i := range 100 {
		if _, ok := authorize(c, "admin", "s3cret"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	if got := counter.calls.Load(); got > 1 {
		t.Errorf("got %d bcrypt checks for 100 requests with one header, want at most 1", got)
	}
}

// TestHtpasswdCacheBounded checks the size bound and that only hashes are
// kept.
func TestHtpasswdCacheBounded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	users := map[string]string{"a": "1", "b": "2", "c": "3"}
	writeHtpasswd(t, file, bcrypt.MinCost, time.Unix(1_600_000_000, 0), users)
	c, counter, clock := newTestCache(t, file, 2)
	for _, u := range []string{"a", "b", "c"} {
		clock.advance(time.Second)
		if _, ok := authorize(c, u, users[u]); !ok {
			t.Fatalf("user %s refused", u)
		}
	}
	if got := c.cached(); got != 2 {
		t.Errorf("cache holds %d entries, want 2", got)
	}
	// "a" expired first, so it was evicted; "c" is still cached.
	authorize(c, "c", "3")
	authorize(c, "a", "1")
	if got, want := counter.calls.Load(), int64(4); got != want {
		t.Errorf("got %d bcrypt checks, want %d", got, want)
	}
	other, _, _ := newTestCache(t, file, 2)
	if c.key("Basic YTox") == other.key("Basic YTox") {
		t.Error("two caches hash a header to the same key; want a per-process salt")
	}
}

// TestConfigSelectsCachingHtpasswd checks that Config.Htpasswd is served by
// the caching controller, with the options Distribution's needs.
func TestConfigSelectsCachingHtpasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, file, bcrypt.MinCost, time.Unix(1_600_000_000, 0), map[string]string{"admin": "s3cret"})
	dcfg, err := Config{Htpasswd: file}.distribution()
	if err != nil {
		t.Fatalf("distribution: %v", err)
	}
	params, ok := dcfg.Auth[htpasswdCacheName]
	if !ok || len(dcfg.Auth) != 1 {
		t.Fatalf("auth: got %v, want only %s", dcfg.Auth, htpasswdCacheName)
	}
	if params["path"] != file || params["realm"] == "" {
		t.Errorf("auth options: got %v, want path %s and a realm", params, file)
	}
}

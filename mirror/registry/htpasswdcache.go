package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/registry/auth"
)

// Why a caching access controller: Distribution's htpasswd controller runs
// bcrypt (tens of milliseconds at the default cost) on every request, and a
// bundle load issues thousands of HEAD and PUT requests with the same Basic
// header. Re-loading 20 MiB that was already present took 15.9 s with
// htpasswd and 0.35 s without.
//
// The controller registered here as htpasswdCacheName wraps Distribution's
// own "htpasswd" controller and remembers, for a short time, that a header
// was accepted. It stores only a salted SHA-256 of the Authorization header
// and an expiry: never the header, the user name or the password. A refusal
// is never cached, so a wrong password is checked by bcrypt every time, and
// any change of the htpasswd file (modification time or size) empties the
// cache, so removing a user or changing a password takes effect at once.

// htpasswdCacheName is the name the caching controller is registered under
// with Distribution's auth factory; Config.distribution selects it when
// Config.Htpasswd is set.
const htpasswdCacheName = "meshpack-htpasswd"

const (
	// defaultAuthCacheTTL is how long an accepted Authorization header is
	// trusted without another bcrypt check.
	defaultAuthCacheTTL = 60 * time.Second
	// defaultAuthCacheSize bounds the number of remembered headers.
	defaultAuthCacheSize = 1024
)

// Distribution's access controllers are found by name in a process-global
// factory; registering there is the only way to plug one in.
func init() {
	if err := auth.Register(htpasswdCacheName, auth.InitFunc(newCachingHtpasswd)); err != nil {
		panic(fmt.Sprintf("registry: register %s access controller: %v", htpasswdCacheName, err))
	}
}

// cachingHtpasswd is an auth.AccessController that delegates to
// Distribution's htpasswd controller and caches its successful checks.
type cachingHtpasswd struct {
	inner auth.AccessController
	path  string
	ttl   time.Duration
	size  int
	now   func() time.Time
	salt  [32]byte

	mu      sync.Mutex
	stamp   fileStamp
	entries map[[sha256.Size]byte]time.Time
}

// fileStamp identifies one version of the htpasswd file.
type fileStamp struct {
	mtime int64 // modification time, Unix nanoseconds
	size  int64
}

var _ auth.AccessController = (*cachingHtpasswd)(nil)

// newCachingHtpasswd is the auth.InitFunc of htpasswdCacheName. It takes the
// options of Distribution's htpasswd controller ("realm", "path") plus the
// optional "cachettl" (a time.Duration) and "cachesize" (an int).
func newCachingHtpasswd(options map[string]any) (auth.AccessController, error) {
	path, _ := options["path"].(string)
	inner, err := auth.GetAccessController("htpasswd", map[string]any{
		"realm": options["realm"],
		"path":  path,
	})
	if err != nil {
		return nil, err
	}
	ttl, size := defaultAuthCacheTTL, defaultAuthCacheSize
	if v, ok := options["cachettl"].(time.Duration); ok {
		ttl = v
	}
	if v, ok := options["cachesize"].(int); ok {
		size = v
	}
	return newCache(inner, path, ttl, size, time.Now)
}

// newCache wraps inner, which checks credentials against the htpasswd file
// at path, with a cache of at most size entries that live for ttl.
func newCache(inner auth.AccessController, path string, ttl time.Duration, size int, now func() time.Time) (*cachingHtpasswd, error) {
	c := &cachingHtpasswd{
		inner:   inner,
		path:    path,
		ttl:     ttl,
		size:    size,
		now:     now,
		entries: map[[sha256.Size]byte]time.Time{},
	}
	if _, err := rand.Read(c.salt[:]); err != nil {
		return nil, fmt.Errorf("registry htpasswd cache salt: %w", err)
	}
	return c, nil
}

// Authorized implements auth.AccessController. A Basic header accepted
// within the last ttl, while the htpasswd file stayed the same, is granted
// with the same user identity Distribution's controller would give;
// everything else goes to Distribution's controller.
func (c *cachingHtpasswd) Authorized(req *http.Request, access ...auth.Access) (*auth.Grant, error) {
	user, _, ok := req.BasicAuth()
	if !ok || c.ttl <= 0 || c.size <= 0 {
		return c.inner.Authorized(req, access...)
	}
	st, err := os.Stat(c.path)
	if err != nil {
		return c.inner.Authorized(req, access...) // reports the error
	}
	stamp := fileStamp{mtime: st.ModTime().UnixNano(), size: st.Size()}
	key := c.key(req.Header.Get("Authorization"))
	if c.hit(key, stamp) {
		return &auth.Grant{User: auth.UserInfo{Name: user}}, nil
	}
	grant, err := c.inner.Authorized(req, access...)
	if err != nil {
		return nil, err
	}
	c.store(key, stamp)
	return grant, nil
}

// key returns the salted hash under which header is remembered.
func (c *cachingHtpasswd) key(header string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.salt[:])
	h.Write([]byte(header))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// hit reports whether key was accepted less than ttl ago. A file stamp other
// than the cached one empties the cache first.
func (c *cachingHtpasswd) hit(key [sha256.Size]byte, stamp fileStamp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stamp != c.stamp {
		clear(c.entries)
		c.stamp = stamp
		return false
	}
	exp, ok := c.entries[key]
	if !ok {
		return false
	}
	if !c.now().Before(exp) {
		delete(c.entries, key)
		return false
	}
	return true
}

// store remembers key as accepted for ttl, unless the file changed since
// stamp was taken (the check may then have used either version). When the
// cache is full, expired entries are swept, then the one expiring first is
// dropped.
func (c *cachingHtpasswd) store(key [sha256.Size]byte, stamp fileStamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stamp != c.stamp {
		return
	}
	now := c.now()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		var oldest [sha256.Size]byte
		var oldestExp time.Time
		for k, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, k)
				continue
			}
			if oldestExp.IsZero() || exp.Before(oldestExp) {
				oldest, oldestExp = k, exp
			}
		}
		if len(c.entries) >= c.size {
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = now.Add(c.ttl)
}

// cached returns the number of remembered headers, for tests.
func (c *cachingHtpasswd) cached() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

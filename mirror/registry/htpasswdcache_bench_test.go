package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"golang.org/x/crypto/bcrypt"
)

// benchRegistry starts a real embedded registry for cfg on 127.0.0.1 and
// returns its base URL. A non-empty authName replaces the access controller
// Config chose (Distribution's plain "htpasswd", say), keeping its options.
func benchRegistry(b *testing.B, cfg Config, authName string) string {
	b.Helper()
	dcfg, err := cfg.distribution()
	if err != nil {
		b.Fatalf("configure: %v", err)
	}
	if authName != "" {
		dcfg.Auth = configuration.Auth{authName: dcfg.Auth[htpasswdCacheName]}
	}
	id, err := instanceID()
	if err != nil {
		b.Fatal(err)
	}
	unregister := logBridge.register(id, slog.New(slog.DiscardHandler))
	app, err := newApp(context.WithValue(context.Background(), instanceKey, id), dcfg) //nolint:staticcheck // Distribution's key
	if err != nil {
		unregister()
		b.Fatal(err)
	}
	ts := httptest.NewServer(app)
	b.Cleanup(func() {
		ts.Close()
		_ = app.Shutdown()
		unregister()
	})
	return ts.URL
}

// benchDo sends one request and fails b unless the status is want.
func benchDo(b *testing.B, method, url string, body []byte, basic []string, want int) *http.Response {
	b.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	if basic != nil {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: got %d, want %d", method, url, resp.StatusCode, want)
	}
	return resp
}

// BenchmarkAuthenticatedHEAD measures one blob HEAD (what a load does for
// every blob already present) against the real embedded registry: without
// auth, with Distribution's htpasswd controller (bcrypt at the default cost
// on every request), and with the caching controller.
func BenchmarkAuthenticatedHEAD(b *testing.B) {
	file := filepath.Join(b.TempDir(), "htpasswd")
	writeHtpasswd(b, file, bcrypt.DefaultCost, time.Now(), map[string]string{"admin": "s3cret"})
	cred := []string{"admin", "s3cret"}
	blob := bytes.Repeat([]byte("layer"), 1000)
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	cases := []struct {
		name     string
		cfg      Config
		authName string
		cred     []string
	}{
		{name: "noauth", cfg: Config{}},
		{name: "htpasswd", cfg: Config{Htpasswd: file}, authName: "htpasswd", cred: cred},
		{name: "cached", cfg: Config{Htpasswd: file}, cred: cred},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			base := benchRegistry(b, tc.cfg, tc.authName)
			up := benchDo(b, http.MethodPost, base+"/v2/bench/blobs/uploads/", nil, tc.cred, http.StatusAccepted)
			loc := up.Header.Get("Location")
			if loc[0] == '/' {
				loc = base + loc
			}
			sep := "?"
			if bytes.ContainsRune([]byte(loc), '?') {
				sep = "&"
			}
			benchDo(b, http.MethodPut, loc+sep+"digest="+digest, blob, tc.cred, http.StatusCreated)
			head := base + "/v2/bench/blobs/" + digest
			b.ResetTimer()
			for b.Loop() {
				benchDo(b, http.MethodHead, head, nil, tc.cred, http.StatusOK)
			}
		})
	}
}

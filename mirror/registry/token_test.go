package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestTokenAuth serves the embedded registry with bearer-token auth and a
// test token issuer: tokens are required, their scopes are enforced per
// repository (a cross-repository mount needs pull on the source too), and
// tokens from an untrusted key are refused.
func TestTokenAuth(t *testing.T) {
	users := map[string]registrytest.TokenUser{
		"robot": {Password: "robot-pw", Grants: map[string][]string{"team/": {"pull", "push"}}},
	}
	host, ti := registrytest.NewTokenAuth(t, registry.Config{Root: t.TempDir()}, users)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// oras-go speaks the token protocol: push a blob into team/a with the
	// robot's password.
	src, err := remote.NewRepository(host + "/team/a")
	if err != nil {
		t.Fatal(err)
	}
	src.PlainHTTP = true
	src.Client = &auth.Client{Credential: auth.StaticCredential(host, auth.Credential{Username: "robot", Password: "robot-pw"})}
	blob := []byte("a layer shared by team/a and team/b")
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, blob)
	if err := src.Push(ctx, desc, bytes.NewReader(blob)); err != nil {
		t.Fatalf("push with token auth: %v", err)
	}

	other := registrytest.NewTokenIssuer(t, nil) // a key the registry does not trust
	mount := "/v2/team/b/blobs/uploads/?" + url.Values{"mount": {desc.Digest.String()}, "from": {"team/a"}}.Encode()
	for _, tc := range []struct {
		name         string
		token        func(t *testing.T) string // "" sends no Authorization
		method, path string
		wantStatus   int
		wantHeader   string // in WWW-Authenticate
	}{
		{"no token", func(*testing.T) string { return "" }, http.MethodGet, "/v2/",
			http.StatusUnauthorized, `Bearer realm="` + ti.Realm + `",service="` + ti.Service + `"`},
		{"token without scopes", func(t *testing.T) string { return fetchToken(t, ti, "robot", "robot-pw") }, http.MethodGet, "/v2/",
			http.StatusOK, ""},
		{"pull scope pulls", func(t *testing.T) string { return fetchToken(t, ti, "robot", "robot-pw", "repository:team/a:pull") },
			http.MethodHead, "/v2/team/a/blobs/" + desc.Digest.String(), http.StatusOK, ""},
		{"pull scope does not push", func(t *testing.T) string { return fetchToken(t, ti, "robot", "robot-pw", "repository:team/a:pull") },
			http.MethodPost, "/v2/team/a/blobs/uploads/", http.StatusUnauthorized, `error="insufficient_scope"`},
		{"push scope pushes", func(t *testing.T) string {
			return fetchToken(t, ti, "robot", "robot-pw", "repository:team/a:pull,push")
		}, http.MethodPost, "/v2/team/a/blobs/uploads/", http.StatusAccepted, ""},
		{"repository outside the grants", func(t *testing.T) string {
			return fetchToken(t, ti, "robot", "robot-pw", "repository:other/a:pull,push")
		}, http.MethodPost, "/v2/other/a/blobs/uploads/", http.StatusUnauthorized, `error="insufficient_scope"`},
		{"mount without pull on the source", func(t *testing.T) string {
			return fetchToken(t, ti, "robot", "robot-pw", "repository:team/b:pull,push")
		}, http.MethodPost, mount, http.StatusUnauthorized, `repository:team/a:pull`},
		{"mount with both scopes", func(t *testing.T) string {
			return fetchToken(t, ti, "robot", "robot-pw", "repository:team/b:pull,push", "repository:team/a:pull")
		}, http.MethodPost, mount, http.StatusCreated, ""},
		{"anonymous token", func(t *testing.T) string { return fetchToken(t, ti, "", "", "repository:team/a:pull") },
			http.MethodHead, "/v2/team/a/blobs/" + desc.Digest.String(), http.StatusUnauthorized, `error="insufficient_scope"`},
		{"untrusted signing key", func(t *testing.T) string {
			tok, err := other.Sign("robot", "repository:team/a:pull")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, http.MethodHead, "/v2/team/a/blobs/" + desc.Digest.String(), http.StatusUnauthorized, `error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tc.method, "http://"+host+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tok := tc.token(t); tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s %s: got %s, want %d (WWW-Authenticate %q)", tc.method, tc.path, resp.Status, tc.wantStatus, resp.Header.Get("WWW-Authenticate"))
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wantHeader) {
				t.Errorf("WWW-Authenticate: got %q, want it to contain %q", got, tc.wantHeader)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		resp := tokenResponse(t, ti, "robot", "guess")
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token request with a wrong password: got %s, want 401", resp.Status)
		}
		reqs := ti.Requests()
		if last := reqs[len(reqs)-1]; last.Account != "robot" || last.Status != http.StatusUnauthorized {
			t.Errorf("issuer recorded %+v, want robot refused with 401", last)
		}
	})
}

// tokenResponse asks the issuer for a token (basic auth when user is set).
func tokenResponse(t *testing.T, ti *registrytest.TokenIssuer, user, password string, scopes ...string) *http.Response {
	t.Helper()
	q := url.Values{"service": {ti.Service}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	req, err := http.NewRequest(http.MethodGet, ti.Realm+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// fetchToken returns a token from the issuer, failing the test otherwise.
func fetchToken(t *testing.T, ti *registrytest.TokenIssuer, user, password string, scopes ...string) string {
	t.Helper()
	resp := tokenResponse(t, ti, user, password, scopes...)
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token request: got %s, want 200", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token response: %v (token %q)", err, body.Token)
	}
	return body.Token
}

// TestTokenConfig refuses token auth configurations Distribution would
// reject or panic on, naming what is wrong.
func TestTokenConfig(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bundle, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("admin:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := registry.TokenAuth{Realm: "http://127.0.0.1:1/token", Service: "s", Issuer: "i", RootCertBundle: bundle}
	for _, tc := range []struct {
		name string
		edit func(*registry.Config)
		want string
	}{
		{"with htpasswd", func(c *registry.Config) { c.Htpasswd = htpasswd }, "exclude each other"},
		{"no issuer", func(c *registry.Config) { c.Token.Issuer = "" }, "Issuer"},
		{"relative realm", func(c *registry.Config) { c.Token.Realm = "/token" }, `realm "/token"`},
		{"missing bundle", func(c *registry.Config) { c.Token.RootCertBundle = filepath.Join(dir, "none.pem") }, "none.pem"},
		{"bundle without certificates", func(*registry.Config) {}, "signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := ok
			cfg := registry.Config{Token: &tok}
			tc.edit(&cfg)
			srv, err := registry.New(context.Background(), cfg)
			if err == nil {
				srv.Close()
				t.Fatal("New: got nil error, want one")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

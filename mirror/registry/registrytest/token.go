package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

// TokenUser is one account of a TokenIssuer.
type TokenUser struct {
	// Password is checked against HTTP basic auth on the token request.
	Password string
	// Grants maps a repository name prefix ("team/", or a whole name such as
	// "mesh/app") to the actions allowed below it ("pull", "push").
	Grants map[string][]string
}

// TokenRequest is one request the issuer answered.
type TokenRequest struct {
	// Account is the basic-auth user name ("" for an anonymous request).
	Account string
	// Scopes are the scope parameters as requested, e.g.
	// "repository:mesh/app:pull,push".
	Scopes []string
	// Granted are the scopes the token grants, in the same form (actions
	// the account lacks are left out, as Harbor, Quay and GitLab do).
	Granted []string
	// Status is 200, or 401 for credentials that were rejected.
	Status int
}

// TokenIssuer is a small token service of the Docker token protocol on
// 127.0.0.1 (GET REALM?service=S&scope=…, basic auth): it signs ES256 JWTs
// with a fresh key whose self-signed certificate travels in the x5c header,
// granting each requested repository scope as far as the account's Grants
// allow. Anonymous requests get a token that grants nothing.
type TokenIssuer struct {
	// Realm is the token endpoint URL; Service and Issuer are what the
	// tokens name (aud, iss).
	Realm, Service, Issuer string
	// CertFile is the PEM certificate of the signing key (the registry's
	// root certificate bundle).
	CertFile string

	users   map[string]TokenUser
	key     *ecdsa.PrivateKey
	certDER []byte

	mu   sync.Mutex
	reqs []TokenRequest
}

// NewTokenIssuer starts a token service for users on 127.0.0.1; it is
// closed on cleanup.
func NewTokenIssuer(t testing.TB, users map[string]TokenUser) *TokenIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("registrytest: token key: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "meshpack test token issuer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("registrytest: token certificate: %v", err)
	}
	certFile := filepath.Join(t.TempDir(), "token-issuer.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	ti := &TokenIssuer{
		Service: "meshpack-test-registry", Issuer: "meshpack-test-issuer", CertFile: certFile,
		users: users, key: key, certDER: der,
	}
	srv := httptest.NewServer(http.HandlerFunc(ti.serveToken))
	t.Cleanup(srv.Close)
	ti.Realm = srv.URL + "/token"
	return ti
}

// NewTokenAuth starts a token issuer for users and a registry configured by
// cfg (as NewWithConfig; cfg.Htpasswd must be empty) that trusts it. It
// returns the registry's host:port and the issuer.
func NewTokenAuth(t testing.TB, cfg registry.Config, users map[string]TokenUser) (host string, issuer *TokenIssuer) {
	t.Helper()
	ti := NewTokenIssuer(t, users)
	cfg.Token = ti.Auth()
	return NewWithConfig(t, cfg), ti
}

// Auth is the registry configuration that trusts this issuer.
func (ti *TokenIssuer) Auth() *registry.TokenAuth {
	return &registry.TokenAuth{Realm: ti.Realm, Service: ti.Service, Issuer: ti.Issuer, RootCertBundle: ti.CertFile}
}

// Requests returns the token requests answered so far.
func (ti *TokenIssuer) Requests() []TokenRequest {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return slices.Clone(ti.reqs)
}

func (ti *TokenIssuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	req := TokenRequest{Scopes: q["scope"], Status: http.StatusOK}
	var grants map[string][]string
	if user, pass, ok := r.BasicAuth(); ok {
		req.Account = user
		u, known := ti.users[user]
		if !known || u.Password != pass || q.Get("service") != ti.Service {
			req.Status = http.StatusUnauthorized
			ti.record(req)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Basic realm="meshpack test token issuer"`)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}`)
			return
		}
		grants = u.Grants
	}
	for _, s := range req.Scopes {
		for _, one := range strings.Fields(s) { // several scopes may share a parameter
			typ, name, actions, ok := parseScope(one)
			if !ok || typ != "repository" {
				continue
			}
			if allowed := grantedActions(grants, name, actions); len(allowed) > 0 {
				req.Granted = append(req.Granted, typ+":"+name+":"+strings.Join(allowed, ","))
			}
		}
	}
	token, err := ti.Sign(req.Account, req.Granted...)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ti.record(req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": token, "access_token": token, "expires_in": 300,
		"issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

func (ti *TokenIssuer) record(req TokenRequest) {
	ti.mu.Lock()
	ti.reqs = append(ti.reqs, req)
	ti.mu.Unlock()
}

// parseScope splits "repository:team/app:pull,push".
func parseScope(s string) (typ, name string, actions []string, ok bool) {
	typ, rest, ok1 := strings.Cut(s, ":")
	i := strings.LastIndex(rest, ":")
	if !ok1 || i <= 0 {
		return "", "", nil, false
	}
	return typ, rest[:i], strings.Split(rest[i+1:], ","), true
}

// grantedActions returns the requested actions on name that grants allow.
func grantedActions(grants map[string][]string, name string, requested []string) []string {
	var out []string
	for _, a := range requested {
		for prefix, allowed := range grants {
			below := name == prefix || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(name, prefix))
			if below && slices.Contains(allowed, a) {
				out = append(out, a)
				break
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Sign issues a token for subject granting exactly scopes (each
// "repository:NAME:ACTION[,ACTION]"), valid for five minutes.
func (ti *TokenIssuer) Sign(subject string, scopes ...string) (string, error) {
	type resourceActions struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	access := []resourceActions{}
	for _, s := range scopes {
		typ, name, actions, ok := parseScope(s)
		if !ok {
			return "", fmt.Errorf("registrytest: scope %q: want TYPE:NAME:ACTIONS", s)
		}
		access = append(access, resourceActions{Type: typ, Name: name, Actions: actions})
	}
	now := time.Now()
	var jti [8]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	header, err := json.Marshal(map[string]any{
		"alg": "ES256", "typ": "JWT",
		"x5c": []string{base64.StdEncoding.EncodeToString(ti.certDER)},
	})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": ti.Issuer, "sub": subject, "aud": ti.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]), "access": access,
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, ti.key, sum[:])
	if err != nil {
		return "", err
	}
	// JWS ES256: r and s as 32-byte big-endian integers (RFC 7518 3.4).
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig), nil
}

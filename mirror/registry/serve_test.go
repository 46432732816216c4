package registry_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns the
// cert and key paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "meshpack test registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// serve runs srv on a fresh 127.0.0.1 listener and returns its address and
// a function that cancels Serve and returns its result.
func serve(t *testing.T, srv *registry.Server) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(20 * time.Second):
				result = errors.New("serve did not return 20s after cancel")
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	srv, err := registry.New(context.Background(), registry.Config{TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	defer srv.Close()
	addr, stop := serve(t, srv)

	tests := []struct {
		name   string
		client *http.Client
		url    string
		want   int
	}{
		{name: "trusted https", client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, url: "https://" + addr + "/v2/", want: http.StatusOK},
		{name: "plain http refused", client: http.DefaultClient, url: "http://" + addr + "/v2/", want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.client.Get(tt.url)
			if err != nil {
				t.Fatalf("GET %s: %v", tt.url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s: got %d, want %d", tt.url, resp.StatusCode, tt.want)
			}
		})
	}

	// Through oras-go too, as meshpack's clients speak it.
	r, err := remote.NewRepository(addr + "/istio/pilot")
	if err != nil {
		t.Fatalf("new repository: %v", err)
	}
	r.Client = &auth.Client{Client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	ctx := context.Background()
	pushImage(ctx, t, r, "amd64", "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip")

	if err := stop(); err != nil {
		t.Errorf("serve after cancel: got %v, want nil", err)
	}
	if _, err := http.Get("http://" + addr + "/v2/"); err == nil {
		t.Error("GET after shutdown: got nil error, want connection refused")
	}
}

func TestHtpasswd(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("admin:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatalf("write htpasswd: %v", err)
	}
	host := registrytest.NewWithConfig(t, registry.Config{Htpasswd: file})
	ctx := context.Background()

	tests := []struct {
		name   string
		cred   auth.Credential
		wantOK bool
	}{
		{name: "anonymous", cred: auth.EmptyCredential},
		{name: "wrong password", cred: auth.Credential{Username: "admin", Password: "nope"}},
		{name: "right password", cred: auth.Credential{Username: "admin", Password: "s3cret"}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := remote.NewRepository(host + "/istio/pilot")
			if err != nil {
				t.Fatalf("new repository: %v", err)
			}
			r.PlainHTTP = true
			r.Client = &auth.Client{Credential: auth.StaticCredential(host, tt.cred)}
			b := []byte("layer")
			err = r.Push(ctx, content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayerGzip, b), bytes.NewReader(b))
			switch {
			case tt.wantOK && err != nil:
				t.Errorf("push: got %v, want success", err)
			case !tt.wantOK && err == nil:
				t.Error("push: got success, want 401 Unauthorized")
			case !tt.wantOK && !strings.Contains(err.Error(), "401") && !errors.Is(err, auth.ErrBasicCredentialNotFound):
				t.Errorf("push: got %v, want a 401 Unauthorized error", err)
			}
		})
	}

	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatalf("GET /v2/: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusUnauthorized; got != want {
		t.Errorf("anonymous GET /v2/: got %d, want %d", got, want)
	}
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("WWW-Authenticate: got %q, want a Basic challenge", got)
	}
}

func TestLogBridge(t *testing.T) {
	// Two servers in one process: each one's lines reach its own logger.
	ctx := context.Background()
	var a, b recorder
	hostA := registrytest.NewWithConfig(t, registry.Config{Logger: slog.New(&a)})
	hostB := registrytest.NewWithConfig(t, registry.Config{Logger: slog.New(&b)})

	pushImage(ctx, t, repo(t, hostA, "istio/pilot"), "amd64", "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip")
	if resp, err := http.Get("http://" + hostB + "/v2/"); err == nil {
		resp.Body.Close()
	}

	if got := a.count("response completed"); got == 0 {
		t.Errorf("server A lines %q: got no request lines, want some", a.messages())
	}
	if got := b.count("PUT"); got != 0 {
		t.Errorf("server B: got %d lines about A's pushes, want 0 (%q)", got, b.messages())
	}

	// A 404 is routine (HEAD-before-push): logged at debug, not as an error.
	r := repo(t, hostA, "istio/pilot")
	if ok, _ := r.Exists(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("absent"), Size: 6}); ok {
		t.Fatal("absent blob exists")
	}
	if got := a.count("ERROR"); got != 0 {
		t.Errorf("server A: got %d error lines after a 404, want 0 (%q)", got, a.messages())
	}
}

// recorder is a slog.Handler that keeps every record, at every level.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var sb strings.Builder
	sb.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		sb.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	r.msgs = append(r.msgs, sb.String())
	r.mu.Unlock()
	return nil
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func (r *recorder) count(sub string) int {
	n := 0
	for _, m := range r.messages() {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func TestListenAndServe(t *testing.T) {
	srv, err := registry.New(context.Background(), registry.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: got %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ListenAndServe did not return 20s after cancel")
	}

	// A busy address is an error, not a hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	busy, err := registry.New(context.Background(), registry.Config{Addr: ln.Addr().String()})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	defer busy.Close()
	if err := busy.ListenAndServe(context.Background()); err == nil {
		t.Error("ListenAndServe on a busy address: got nil, want an error")
	}
}

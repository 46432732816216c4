package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/remote"
	"github.com/lattice-mesh/meshpack/signing"
)

// testDir holds what the tests of this binary share (the fixture bundle);
// TestMain removes it.
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshpack-mirror-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixtureBundle is a signed bundle of Istio 1.30.3 ambient + Kiali + Gateway
// API, built from the fixture upstream like `meshpack bundle create` does.
type fixtureBundle struct {
	path   string           // the bundle file
	pub    string           // cosign.pub of the key that signed it
	key    signing.Verifier // the same key
	bom    *bundle.BOM
	blobs  int64 // bytes of all blobs
	create time.Duration
}

var (
	fixtureOnce sync.Once
	fixture     *fixtureBundle
	fixtureErr  error
)

// sharedBundle builds the fixture bundle once per test binary.
func sharedBundle(t testing.TB) *fixtureBundle {
	t.Helper()
	fixtureOnce.Do(func() {
		fixture, fixtureErr = buildBundle(filepath.Join(testDir, "fixture"), upstream.Options{})
	})
	if fixtureErr != nil {
		t.Fatalf("build fixture bundle: %v", fixtureErr)
	}
	return fixture
}

// buildBundle starts a fixture upstream whose Istio images are signed with
// a fixture key, resolves Istio 1.30.3 ambient + Kiali through its mirrors
// and creates a bundle signed with a second key, in dir.
func buildBundle(dir string, uopts upstream.Options) (*fixtureBundle, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	upSigner, upPub, err := upstream.NewFixtureKey(filepath.Join(dir, "upstream-key"))
	if err != nil {
		return nil, err
	}
	uopts.Sign = upstream.SignWith(upSigner)
	uopts.TempDir = dir
	u, err := upstream.Start(ctx, uopts)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	var mirrors []manifests.Mirror
	for _, m := range u.Mirrors() {
		pm, err := manifests.ParseMirror(m)
		if err != nil {
			return nil, err
		}
		mirrors = append(mirrors, pm)
	}
	c, err := remote.New(remote.Options{Mirrors: mirrors})
	if err != nil {
		return nil, err
	}
	spec := manifests.Spec{
		APIVersion: manifests.APIVersion, Kind: manifests.SpecKind,
		Istio: manifests.IstioSpec{Version: "1.30.3", Profile: manifests.ProfileAmbient},
		Kiali: manifests.KialiSpec{Enabled: true},
	}
	lock, err := resolve.Resolve(ctx, spec, resolve.Options{Client: c})
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	upPEM, err := os.ReadFile(upPub)
	if err != nil {
		return nil, err
	}
	upKey, err := signing.LoadVerifier(upPEM)
	if err != nil {
		return nil, err
	}
	keys := map[string]signing.Verifier{}
	for _, n := range upstream.IstioKeyNames {
		keys[n] = upKey
	}
	keyDir := filepath.Join(dir, "bundle-key")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, err
	}
	keyPath, pubPath, err := signing.WriteKeyPair(keyDir, nil, signing.KeyFileOptions{})
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	signer, err := signing.LoadSigner(keyPEM, nil)
	if err != nil {
		return nil, err
	}
	pubPEM, err := os.ReadFile(pubPath)
	if err != nil {
		return nil, err
	}
	verifier, err := signing.LoadVerifier(pubPEM)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "mesh.tar.zst")
	res, err := mirror.Create(ctx, lock, path, mirror.CreateOptions{PullOptions: mirror.PullOptions{
		Client: c, UpstreamKeys: keys, Signer: signer, Tool: bundle.Tool{Name: "meshpack", Version: "test"},
	}})
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return &fixtureBundle{path: path, pub: pubPath, key: verifier, bom: res.BOM, blobs: res.Bytes, create: time.Since(start)}, nil
}

// open opens the fixture bundle for one test.
func (f *fixtureBundle) open(t testing.TB) *bundle.Reader {
	t.Helper()
	r, err := bundle.Open(f.path)
	if err != nil {
		t.Fatalf("open bundle: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// requireTools reports whether missing tools fail the test rather than skip it.
func requireTools() bool { return os.Getenv("MESHPACK_REQUIRE_TOOLS") == "1" }

// findTool finds a CLI on PATH, in $MESHPACK_TOOLS_DIR (hack/test-setup.sh)
// or in $GOPATH/bin; it skips the test when absent.
func findTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range []string{
		filepath.Join(os.Getenv("MESHPACK_TOOLS_DIR"), name),
		filepath.Join(build.Default.GOPATH, "bin", name),
	} {
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	if requireTools() {
		t.Fatalf("%s not found (run hack/test-setup.sh) and MESHPACK_REQUIRE_TOOLS=1", name)
	}
	t.Skipf("%s not installed (run hack/test-setup.sh); set MESHPACK_REQUIRE_TOOLS=1 to make this a failure", name)
	return ""
}

// debianRegistry starts Debian's docker-registry (an independent CNCF
// Distribution 2.8 build) on 127.0.0.1 with storage in a temp directory and
// returns its host:port. It skips when the package is not installed.
func debianRegistry(t testing.TB) string {
	t.Helper()
	const bin = "/usr/bin/docker-registry"
	if _, err := os.Stat(bin); err != nil {
		if requireTools() {
			t.Fatalf("%s not found (apt-get install docker-registry, or hack/test-setup.sh) and MESHPACK_REQUIRE_TOOLS=1", bin)
		}
		t.Skipf("%s not installed (apt-get install docker-registry)", bin)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("docker-registry log:\n%s", b)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry on %s not ready after 10s: %v", addr, errors.Join(err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testLogger logs debug lines to stderr with MESHPACK_LOAD_DEBUG=1.
func testLogger() *slog.Logger {
	if os.Getenv("MESHPACK_LOAD_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// plainClient is a registry client for plain-HTTP loopback registries.
func plainClient(t testing.TB, opts remote.Options) *remote.Client {
	t.Helper()
	opts.PlainHTTP = true
	c, err := remote.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

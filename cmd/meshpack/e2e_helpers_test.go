package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/signing"
)

// e2eEnv is one fixture upstream (Istio 1.30.3 signed by a fixture Istio
// key, Kiali 2.26.0, Gateway API v1.5.1) shared by the end-to-end tests.
type e2eEnv struct {
	u         *upstream.Upstream
	mirrors   []string // "--mirror", "X=Y", ...
	istioPub  string   // fixture Istio public key
	keyDir    string   // bundle key pair (password "test")
	otherPub  string   // an unrelated public key
	otherKey  string
	setupErr  error
	setupOnce sync.Once
}

var e2e e2eEnv

const testPassword = "test"

// exampleImage is the workload image the --help examples carry.
const exampleImage = "registry.example.com/team/app:1.4"

// env starts the shared fixture on first use; it lives until the test binary exits.
func env(t *testing.T) *e2eEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test (-short)")
	}
	e2e.setupOnce.Do(func() { e2e.setupErr = e2e.setup() })
	if e2e.setupErr != nil {
		t.Fatalf("fixture upstream: %v", e2e.setupErr)
	}
	return &e2e
}

func (e *e2eEnv) setup() error {
	dir, err := os.MkdirTemp("", "meshpack-e2e-")
	if err != nil {
		return err
	}
	signer, pub, err := upstream.NewFixtureKey(filepath.Join(dir, "istio"))
	if err != nil {
		return err
	}
	e.istioPub = pub
	u, err := upstream.Start(context.Background(), upstream.Options{
		Sign: upstream.SignWith(signer), Testdata: testdataDir(), ExtraImages: []string{"docker.io/library/app:1", exampleImage},
		IstioVersions: []string{"1.30.3", "1.30.4"}, // 1.30.4: the next patch, for upgrades
	})
	if err != nil {
		return err
	}
	e.u = u
	for _, m := range u.Mirrors() {
		e.mirrors = append(e.mirrors, "--mirror", m)
	}
	e.keyDir = filepath.Join(dir, "keys")
	if _, _, err := signing.WriteKeyPair(mkdir(e.keyDir), []byte(testPassword), signing.KeyFileOptions{}); err != nil {
		return err
	}
	other := mkdir(filepath.Join(dir, "other"))
	e.otherKey, e.otherPub, err = signing.WriteKeyPair(other, []byte(testPassword), signing.KeyFileOptions{})
	return err
}

func mkdir(d string) string { _ = os.MkdirAll(d, 0o755); return d }

func testdataDir() string {
	d, _ := filepath.Abs("../../testdata")
	return d
}

func (e *e2eEnv) key() string { return filepath.Join(e.keyDir, signing.PrivateKeyFile) }
func (e *e2eEnv) pub() string { return filepath.Join(e.keyDir, signing.PublicKeyFile) }

// meshpack runs the CLI with COSIGN_PASSWORD set and the fixture mirrors appended.
func (e *e2eEnv) meshpack(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("COSIGN_PASSWORD", testPassword)
	return runCLI(t, "", append(args, e.mirrors...)...)
}

// createBundle makes a signed ambient bundle of Istio 1.30.3 and returns
// its path.
func (e *e2eEnv) createBundle(t *testing.T, extra ...string) string {
	t.Helper()
	return e.createBundleOf(t, "1.30.3", extra...)
}

// createBundleOf makes a signed ambient bundle of an Istio version the
// fixture serves (1.30.3, 1.30.4).
func (e *e2eEnv) createBundleOf(t *testing.T, istio string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mesh.tar.zst")
	args := append([]string{"bundle", "create", out, "--istio", istio, "--profile", "ambient", "--kiali",
		"--key", e.key(), "--upstream-key", "istio-release=" + e.istioPub}, extra...)
	if _, errOut, code := e.meshpack(t, args...); code != 0 {
		t.Fatalf("bundle create: exit %d\n%s", code, errOut)
	}
	return out
}

// tool returns the path of an external CLI, failing when it is required
// (MESHPACK_REQUIRE_TOOLS=1, as in make test) and skipping otherwise.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if dir := os.Getenv("MESHPACK_TOOLS_DIR"); dir != "" {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("MESHPACK_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not found (run `make tools`)", name)
	}
	t.Skipf("%s not installed; run `make tools`", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// rewriteBundle copies src to dst entry by entry through edit, which may
// change metadata files or replace blobs (returning new bytes for a blob
// writes it under its new digest). With resign, the BOM is re-signed with
// the test key after editing, as a dishonest or buggy creator holding the key
// would.
func rewriteBundle(t *testing.T, src, dst string, edit func(name string, data []byte) []byte, resign bool) {
	t.Helper()
	ctx := context.Background()
	r, err := bundle.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := bundle.Create(dst, bundle.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	w := f.Writer()
	var bom []byte
	for _, e := range r.Entries() {
		if e.Dir {
			continue
		}
		if !strings.HasPrefix(e.Name, "blobs/") {
			data, err := r.File(e.Name)
			if err != nil {
				t.Fatal(err)
			}
			data = edit(e.Name, data)
			if e.Name == bundle.BOMName {
				bom = data
			}
			if e.Name == bundle.BOMSigName && resign {
				data = signBlob(t, bom)
			}
			if err := w.AddFile(e.Name, data); err != nil {
				t.Fatal(err)
			}
			continue
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(e.Name))
		desc := ocispec.Descriptor{Digest: d, Size: e.Size}
		data, err := content.FetchAll(ctx, r, desc)
		if err != nil {
			t.Fatal(err)
		}
		data = edit(e.Name, data)
		desc = ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := w.Push(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

func signBlob(t *testing.T, data []byte) []byte {
	t.Helper()
	pem, err := os.ReadFile(e2e.key())
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadSigner(pem, []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signing.SignBlob(context.Background(), s, data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func digestOf(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

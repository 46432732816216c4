package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"go/build"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasremote "oras.land/oras-go/v2/registry/remote"
)

// These tests run the real cosign CLI (v2.6.5) against our output and ours
// against cosign's. Install it with
//
//	GOBIN=$(go env GOPATH)/bin go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
//
// Without it they skip, or fail when MESHPACK_REQUIRE_TOOLS=1.

// cosignCLI runs cosign offline in a scratch HOME.
type cosignCLI struct {
	path string
	env  []string
}

func findCosign(t *testing.T) *cosignCLI {
	t.Helper()
	path, err := exec.LookPath("cosign")
	if err != nil {
		p := filepath.Join(build.Default.GOPATH, "bin", "cosign")
		if _, serr := os.Stat(p); serr == nil {
			path, err = p, nil
		}
	}
	if err != nil {
		if os.Getenv("MESHPACK_REQUIRE_TOOLS") == "1" {
			t.Fatalf("cosign not found on PATH or in $GOPATH/bin and MESHPACK_REQUIRE_TOOLS=1")
		}
		t.Skip("cosign not installed; set MESHPACK_REQUIRE_TOOLS=1 to make this a failure")
	}
	home := t.TempDir()
	for _, d := range []string{"tuf", "docker"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return &cosignCLI{path: path, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"DOCKER_CONFIG=" + filepath.Join(home, "docker"),
		// Keep cosign away from the public-good TUF root; with any of the
		// SIGSTORE_* key variables set, `verify --key` does not fetch
		// trusted_root.json (cmd/cosign/cli/verify/verify.go), and with
		// --insecure-ignore-tlog the file is never read.
		"TUF_ROOT=" + filepath.Join(home, "tuf"),
		"SIGSTORE_NO_CACHE=1",
		"SIGSTORE_REKOR_PUBLIC_KEY=" + filepath.Join(home, "no-rekor.pub"),
		"COSIGN_EXPERIMENTAL=0",
	}}
}

// run executes cosign with args in dir and returns its combined output.
func (c *cosignCLI) run(t *testing.T, dir, password string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, c.env...), "COSIGN_PASSWORD="+password)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("cosign %s\n%s", strings.Join(args, " "), out.String())
	if strings.Contains(out.String(), "TUF") {
		t.Errorf("cosign %s tried to reach the TUF repository, want it offline:\n%s", strings.Join(args, " "), out.String())
	}
	return out.String(), err
}

func (c *cosignCLI) mustRun(t *testing.T, dir, password string, args ...string) string {
	t.Helper()
	out, err := c.run(t, dir, password, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCosignBlobInterop(t *testing.T) {
	cli := findCosign(t)
	ctx := context.Background()
	dir := t.TempDir()
	keyPath, pubPath, err := WriteKeyPair(dir, []byte("pw"), KeyFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := newTestKeyFromFiles(t, keyPath, pubPath, "pw")
	bom := writeFile(t, filepath.Join(dir, "bom.json"), []byte(`{"schemaVersion":1,"images":["a","b"]}`+"\n"))
	data, _ := os.ReadFile(bom)

	t.Run("cosign verify-blob accepts SignBlob", func(t *testing.T) {
		sig, err := SignBlob(ctx, k.signer, data)
		if err != nil {
			t.Fatal(err)
		}
		sigPath := writeFile(t, filepath.Join(dir, "bom.json.sig"), sig)
		cli.mustRun(t, dir, "", "verify-blob", "--key", pubPath, "--signature", sigPath, "--insecure-ignore-tlog", bom)

		tampered := writeFile(t, filepath.Join(dir, "tampered.json"), append([]byte(" "), data...))
		if out, err := cli.run(t, dir, "", "verify-blob", "--key", pubPath, "--signature", sigPath, "--insecure-ignore-tlog", tampered); err == nil {
			t.Errorf("got cosign verify-blob success on tampered data, want failure:\n%s", out)
		}
	})

	t.Run("VerifyBlob accepts cosign sign-blob", func(t *testing.T) {
		sigPath := filepath.Join(dir, "cosign.sig")
		cli.mustRun(t, dir, "pw", "sign-blob", "--key", keyPath, "--tlog-upload=false", "--yes", "--output-signature", sigPath, bom)
		sig, err := os.ReadFile(sigPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyBlob(ctx, k.verifier, data, sig); err != nil {
			t.Errorf("VerifyBlob(cosign signature): %v", err)
		}
		if err := VerifyBlob(ctx, k.verifier, append(data, ' '), sig); err == nil {
			t.Error("got VerifyBlob success on tampered data, want failure")
		}
	})
}

func newTestKeyFromFiles(t *testing.T, keyPath, pubPath, password string) testKey {
	t.Helper()
	priv, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(priv, []byte(password))
	if err != nil {
		t.Fatalf("LoadSigner(%s): %v", keyPath, err)
	}
	v, err := LoadVerifier(pub)
	if err != nil {
		t.Fatalf("LoadVerifier(%s): %v", pubPath, err)
	}
	return testKey{priv: priv, pub: pub, password: []byte(password), signer: s, verifier: v}
}

// pushRandomImage pushes a small random image to repo and returns its
// manifest descriptor.
func pushRandomImage(t *testing.T, repo string) ocispec.Descriptor {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(repo+":latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggcrremote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(d.String()), Size: int64(len(raw))}
}

func TestCosignImageInterop(t *testing.T) {
	cli := findCosign(t)
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	repoName := host + "/istio/pilot"
	repo, err := orasremote.NewRepository(repoName)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	dockerRef, err := DockerReference(repoName)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	keyPath, pubPath, err := WriteKeyPair(dir, []byte("ours"), KeyFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ours := newTestKeyFromFiles(t, keyPath, pubPath, "ours")
	// The "upstream" (Istio) key comes from cosign itself.
	upDir := filepath.Join(dir, "upstream")
	if err := os.Mkdir(upDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cli.mustRun(t, upDir, "istio", "generate-key-pair")
	upKey, upPub := filepath.Join(upDir, PrivateKeyFile), filepath.Join(upDir, PublicKeyFile)
	upstream := newTestKeyFromFiles(t, upKey, upPub, "istio")

	cosignVerify := func(t *testing.T, pub string, subject digest.Digest) (string, error) {
		return cli.run(t, dir, "", "verify", "--key", pub, "--insecure-ignore-tlog",
			"--allow-insecure-registry", "--allow-http-registry", repoName+"@"+subject.String())
	}

	t.Run("cosign verify accepts Sign", func(t *testing.T) {
		subject := pushRandomImage(t, repoName)
		sig, err := Sign(ctx, ours.signer, dockerRef, subject, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := Push(ctx, repo, subject.Digest, sig); err != nil {
			t.Fatalf("Push: %v", err)
		}
		if out, err := cosignVerify(t, pubPath, subject.Digest); err != nil {
			t.Fatalf("cosign verify: %v\n%s", err, out)
		}
		if out, err := cosignVerify(t, upPub, subject.Digest); err == nil {
			t.Errorf("got cosign verify success with another key, want failure:\n%s", out)
		}
	})

	t.Run("upstream cosign signature plus ours", func(t *testing.T) {
		subject := pushRandomImage(t, repoName)
		ref := repoName + "@" + subject.Digest.String()
		cli.mustRun(t, dir, "istio", "sign", "--key", upKey, "--tlog-upload=false", "--yes",
			"--allow-insecure-registry", "--allow-http-registry", ref)

		up, err := Fetch(ctx, repo, subject.Digest)
		if err != nil {
			t.Fatalf("Fetch cosign signature: %v", err)
		}
		if _, err := Verify(ctx, upstream.verifier, subject.Digest, up); err != nil {
			t.Fatalf("Verify cosign signature with the upstream key: %v", err)
		}
		if _, err := Verify(ctx, ours.verifier, subject.Digest, up); err == nil {
			t.Error("got Verify success with our key on the upstream-only signature, want failure")
		}
		compareWithCosign(t, ctx, upstream, dockerRef, subject, up)

		combined, err := Sign(ctx, ours.signer, dockerRef, subject, up)
		if err != nil {
			t.Fatal(err)
		}
		upM, combinedM := mustManifest(t, up), mustManifest(t, combined)
		if diff := cmp.Diff(upM.Layers, combinedM.Layers[:1]); diff != "" {
			t.Errorf("upstream layer changed (-cosign +combined):\n%s", diff)
		}
		if err := Push(ctx, repo, subject.Digest, combined); err != nil {
			t.Fatalf("Push: %v", err)
		}
		for _, pub := range []string{upPub, pubPath} {
			if out, err := cosignVerify(t, pub, subject.Digest); err != nil {
				t.Errorf("cosign verify --key %s: %v\n%s", pub, err, out)
			}
		}
		// cosign appends to our signature image as to its own.
		third := newTestKey(t, "third")
		thirdKey := writeFile(t, filepath.Join(dir, "third.key"), third.priv)
		thirdPub := writeFile(t, filepath.Join(dir, "third.pub"), third.pub)
		cli.mustRun(t, dir, "third", "sign", "--key", thirdKey, "--tlog-upload=false", "--yes",
			"--allow-insecure-registry", "--allow-http-registry", ref)
		all, err := Fetch(ctx, repo, subject.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(combinedM.Layers, mustManifest(t, all).Layers[:2]); diff != "" {
			t.Errorf("cosign changed our layers (-ours +cosign):\n%s", diff)
		}
		for _, k := range []testKey{upstream, ours, third} {
			if _, err := Verify(ctx, k.verifier, subject.Digest, all); err != nil {
				t.Errorf("Verify after cosign appended: %v", err)
			}
		}
		if out, err := cosignVerify(t, thirdPub, subject.Digest); err != nil {
			t.Errorf("cosign verify third key: %v\n%s", err, out)
		}
	})
}

// compareWithCosign checks that Sign, given the same key and no existing
// image, builds the same image cosign built, up to the (randomised) ECDSA
// signature annotation.
func compareWithCosign(t *testing.T, ctx context.Context, k testKey, dockerRef string, subject ocispec.Descriptor, cosignSig *SignatureImage) {
	t.Helper()
	ourSig, err := Sign(ctx, k.signer, dockerRef, subject, nil)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(sig *SignatureImage) ocispec.Manifest {
		m := mustManifest(t, sig)
		for i := range m.Layers {
			m.Layers[i].Annotations = cloneMap(m.Layers[i].Annotations)
			m.Layers[i].Annotations[sigAnnotation] = "<signature>"
		}
		return m
	}
	if diff := cmp.Diff(strip(cosignSig), strip(ourSig)); diff != "" {
		t.Errorf("manifest differs from cosign's (-cosign +ours):\n%s", diff)
	}
	if cosignSig.MediaType != ourSig.MediaType {
		t.Errorf("got media type %q, cosign wrote %q", ourSig.MediaType, cosignSig.MediaType)
	}
	var want, got []string
	for _, b := range cosignSig.Blobs {
		want = append(want, b.Descriptor.Digest.String())
	}
	for _, b := range ourSig.Blobs {
		got = append(got, b.Descriptor.Digest.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blob digests (config, payload) differ from cosign's (-cosign +ours):\n%s", diff)
	}
	if raw, err := json.Marshal(strip(cosignSig)); err == nil {
		t.Logf("cosign signature manifest (signature elided): %s", raw)
	}
}

package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/remote"
)

// testImage is a single-platform image pushed by pushTestImage.
type testImage struct {
	ref    string               // host/repo:tag
	layers []ocispec.Descriptor // in manifest order
	blobs  map[digest.Digest][]byte
}

// seededBytes returns n pseudo-random (incompressible, reproducible) bytes.
func seededBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// pushTestImage pushes a linux/amd64 image of the given layers to
// host/repo:tag over plain HTTP, with cred when the registry wants one.
func pushTestImage(ctx context.Context, t testing.TB, host, repo, tag string, cred *auth.Credential, layers ...[]byte) testImage {
	t.Helper()
	r, err := orasremote.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	if cred != nil {
		r.Client = &auth.Client{Credential: auth.StaticCredential(host, *cred)}
	}
	img := testImage{ref: host + "/" + repo + ":" + tag, blobs: map[digest.Digest][]byte{}}
	push := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		img.blobs[d.Digest] = data
		if err := r.Push(ctx, d, bytes.NewReader(data)); err != nil {
			t.Fatalf("push %s to %s/%s: %v", d.Digest, host, repo, err)
		}
		return d
	}
	for _, l := range layers {
		img.layers = append(img.layers, push(ocispec.MediaTypeImageLayer, l))
	}
	cfg := push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"repo":"`+repo+`"}}}`))
	raw, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: img.layers})
	if err != nil {
		t.Fatal(err)
	}
	m := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := r.PushReference(ctx, m, bytes.NewReader(raw), tag); err != nil {
		t.Fatalf("push manifest %s: %v", img.ref, err)
	}
	img.blobs[m.Digest] = raw
	return img
}

// resolveTestLock pins refs (extra images only, no Istio) through c.
func resolveTestLock(ctx context.Context, t testing.TB, c *remote.Client, refs ...string) *manifests.Lock {
	t.Helper()
	spec := manifests.Spec{
		APIVersion: manifests.APIVersion, Kind: manifests.SpecKind,
		Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: refs,
	}
	lock, err := resolve.Resolve(ctx, spec, resolve.Options{Client: c})
	if err != nil {
		t.Fatalf("resolve %v: %v", refs, err)
	}
	return lock
}

// checkCreatedBundle requires that the bundle at path passes
// bundle.Validate and offline verification, and that every blob of imgs it
// holds has exactly the bytes that were pushed.
func checkCreatedBundle(ctx context.Context, t testing.TB, path string, imgs ...testImage) {
	t.Helper()
	if err := bundle.Validate(path); err != nil {
		t.Fatalf("bundle.Validate: %v", err)
	}
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := mirror.Verify(ctx, r, mirror.VerifyOptions{AllowUnsigned: true}); err != nil {
		t.Fatalf("mirror.Verify: %v", err)
	}
	for _, img := range imgs {
		for _, l := range img.layers {
			got, err := content.FetchAll(ctx, r, l)
			if err != nil {
				t.Fatalf("%s layer %s from the bundle: %v", img.ref, l.Digest, err)
			}
			if !bytes.Equal(got, img.blobs[l.Digest]) {
				t.Fatalf("%s layer %s: the bundle holds other bytes than were pushed", img.ref, l.Digest)
			}
		}
	}
}

// requireNothingWritten requires that dir (the output directory of a
// failed create) holds no file: no bundle, no part, no .partial.
func requireNothingWritten(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed create left %s behind", filepath.Join(dir, e.Name()))
	}
}

// requireNoSecret fails when any of the named texts contains one of the
// secrets (a password, or the base64 of user:password as a Basic header
// carries it).
func requireNoSecret(t testing.TB, texts map[string]string, secrets ...string) {
	t.Helper()
	for name, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s contains a secret (%d bytes at offset %d)", name, len(s), strings.Index(text, s))
			}
		}
	}
}

package bundle

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testBlob is content with its descriptor.
type testBlob struct {
	desc ocispec.Descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) testBlob {
	return testBlob{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data}
}

// fixture is a small multi-arch image set: istio/pilot as an index of two
// platform manifests, istio/proxyv2 as a single manifest, one gzip layer
// shared by both images, and an uncompressed (compressible) tar layer.
type fixture struct {
	blobs  []testBlob // push order, each once
	shared testBlob
	plain  testBlob // uncompressed layer
	index  ocispec.Index
	bom    BOM
	lock   []byte
}

const (
	refPilot = "istio/pilot:1.30.3"
	refProxy = "istio/proxyv2:1.30.3"
)

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = rng.Read(b)
	return b
}

// gzipLayer returns a gzip stream of n random bytes: like a real layer, it
// does not compress further.
func gzipLayer(t testing.TB, seed uint64, n int) testBlob {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(randomBytes(seed, n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return newBlob(ocispec.MediaTypeImageLayerGzip, buf.Bytes())
}

func jsonBlob(t testing.TB, mediaType string, v any) testBlob {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return newBlob(mediaType, b)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	fx := &fixture{lock: []byte("apiVersion: meshpack/v1\nkind: Lock\nistio: 1.30.3\n")}
	seen := map[digest.Digest]bool{}
	add := func(b testBlob) testBlob {
		if !seen[b.desc.Digest] {
			seen[b.desc.Digest] = true
			fx.blobs = append(fx.blobs, b)
		}
		return b
	}
	fx.shared = gzipLayer(t, 1, 150<<10)
	fx.plain = newBlob(ocispec.MediaTypeImageLayer, bytes.Repeat([]byte("usr/local/bin/pilot-discovery\x00"), 8<<10))
	image := func(arch string, layers ...testBlob) testBlob {
		cfg := add(jsonBlob(t, ocispec.MediaTypeImageConfig, ocispec.Image{
			Platform: ocispec.Platform{Architecture: arch, OS: "linux"},
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString(arch)}},
		}))
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg.desc}
		m.SchemaVersion = 2
		for _, l := range layers {
			m.Layers = append(m.Layers, add(l).desc)
		}
		return jsonBlob(t, ocispec.MediaTypeImageManifest, m)
	}
	amd := add(image("amd64", fx.shared, gzipLayer(t, 2, 100<<10)))
	arm := add(image("arm64", fx.shared, gzipLayer(t, 3, 100<<10)))
	amd.desc.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
	arm.desc.Platform = &ocispec.Platform{Architecture: "arm64", OS: "linux"}
	pilotIdx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{amd.desc, arm.desc}}
	pilotIdx.SchemaVersion = 2
	pilot := add(jsonBlob(t, ocispec.MediaTypeImageIndex, pilotIdx))
	proxy := add(image("amd64", fx.shared, fx.plain, gzipLayer(t, 4, 120<<10)))
	fx.index = ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		withRef(pilot.desc, refPilot), withRef(proxy.desc, refProxy),
	}}
	fx.index.SchemaVersion = 2
	fx.bom = BOM{
		SchemaVersion: BOMSchemaVersion,
		Tool:          Tool{Name: "meshpack", Version: "test"},
		Created:       time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Signed:        false,
		Unsigned:      "test",
		Artifacts: []Artifact{
			{Kind: KindImage, Name: "pilot", Source: "docker.io/" + refPilot, Repository: "istio/pilot", Tag: "1.30.3",
				Digest: pilot.desc.Digest.String(), MediaType: pilot.desc.MediaType, Size: pilot.desc.Size,
				Platforms: []Platform{{"linux/amd64", amd.desc.Digest.String(), amd.desc.Size}, {"linux/arm64", arm.desc.Digest.String(), arm.desc.Size}}},
			{Kind: KindImage, Name: "proxyv2", Source: "docker.io/" + refProxy, Repository: "istio/proxyv2", Tag: "1.30.3",
				Digest: proxy.desc.Digest.String(), MediaType: proxy.desc.MediaType, Size: proxy.desc.Size},
		},
	}
	for _, b := range fx.blobs {
		fx.bom.Blobs = append(fx.bom.Blobs, Blob{Digest: b.desc.Digest.String(), Size: b.desc.Size, MediaType: b.desc.MediaType})
	}
	return fx
}

func withRef(d ocispec.Descriptor, ref string) ocispec.Descriptor {
	d.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	d.Platform = nil
	return d
}

// write writes the fixture to w.
func (fx *fixture) write(t testing.TB, w *Writer) {
	t.Helper()
	ctx := context.Background()
	index, err := json.Marshal(fx.index)
	if err != nil {
		t.Fatal(err)
	}
	if fx.bom.Files == nil {
		fx.bom.Files = []MetadataFile{MetadataOf(OCILayoutName, []byte(OCILayoutJSON)), MetadataOf(IndexName, index), MetadataOf(LockName, fx.lock)}
	}
	for _, f := range []struct {
		name string
		v    any
	}{{IndexName, json.RawMessage(index)}, {BOMName, fx.bom}} {
		b, err := json.Marshal(f.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddFile(f.name, b); err != nil {
			t.Fatalf("AddFile(%s): %v", f.name, err)
		}
	}
	if err := w.AddFile(LockName, fx.lock); err != nil {
		t.Fatalf("AddFile(%s): %v", LockName, err)
	}
	for _, b := range fx.blobs {
		if err := w.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatalf("Push(%s): %v", b.desc.Digest, err)
		}
	}
}

// writeFile writes the fixture to path with Create and Commit, validates
// the result and returns File.Parts.
func (fx *fixture) writeFile(t testing.TB, path string, opts CreateOptions) []string {
	t.Helper()
	f, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	fx.write(t, f.Writer())
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := Validate(path); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return f.Parts()
}

// writeBytes writes the fixture to memory.
func (fx *fixture) writeBytes(t testing.TB, opts WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, opts)
	fx.write(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// requireTool returns the path of an external tool, skipping the test when
// it is missing unless MESHPACK_REQUIRE_TOOLS=1.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MESHPACK_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (MESHPACK_REQUIRE_TOOLS=1): %v; install it with apt-get install -y %s", name, err, name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

package bundletest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
)

// smallBundle writes a real one-image bundle with bundle.Writer (64 KiB
// frames, so the layer spans several) and returns its bytes.
func smallBundle(t *testing.T) []byte {
	t.Helper()
	layer := make([]byte, 300<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range layer {
		layer[i] = byte(r.Uint32())
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	desc := func(mt string, b []byte) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: desc(ocispec.MediaTypeImageConfig, cfg),
		Layers: []ocispec.Descriptor{desc(ocispec.MediaTypeImageLayer, layer)}}
	m.SchemaVersion = 2
	man := mustJSON(t, m)
	md := desc(ocispec.MediaTypeImageManifest, man)
	ref := md
	ref.Annotations = map[string]string{ocispec.AnnotationRefName: "app:1"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{ref}}
	idx.SchemaVersion = 2
	index := mustJSON(t, idx)
	lock := []byte("kind: Lock\n")
	blobs := [][]byte{cfg, layer, man}
	bom := bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion, Unsigned: "test",
		Artifacts: []bundle.Artifact{{Kind: bundle.KindImage, Name: "app", Repository: "app", Tag: "1",
			Digest: md.Digest.String(), MediaType: md.MediaType, Size: md.Size}},
		Files: []bundle.MetadataFile{bundle.MetadataOf(bundle.OCILayoutName, []byte(bundle.OCILayoutJSON)),
			bundle.MetadataOf(bundle.IndexName, index), bundle.MetadataOf(bundle.LockName, lock)}}
	for _, b := range blobs {
		bom.Blobs = append(bom.Blobs, bundle.Blob{Digest: digest.FromBytes(b).String(), Size: int64(len(b))})
	}
	var buf bytes.Buffer
	w := bundle.NewWriter(&buf, bundle.WriterOptions{FrameSize: 64 << 10})
	for _, f := range []struct {
		name string
		data []byte
	}{{bundle.IndexName, index}, {bundle.BOMName, mustJSON(t, bom)}, {bundle.LockName, lock}} {
		if err := w.AddFile(f.name, f.data); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range blobs {
		if err := w.Push(context.Background(), desc("", b), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyFile opens and verifies a bundle with meshpack's reader.
func verifyFile(path string) error {
	r, err := bundle.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = bundle.Verify(context.Background(), r, bundle.VerifyOptions{})
	return err
}

func TestRoundTrip(t *testing.T) {
	orig := smallBundle(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orig.tar.zst"), orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verifyFile(filepath.Join(dir, "orig.tar.zst")); err != nil {
		t.Fatalf("the original bundle does not verify: %v", err)
	}
	b, err := Decode(orig)
	if err != nil {
		t.Fatal(err)
	}
	if scanned := b.ScanTOC(); !slices.Equal(scanned.Entries, b.TOC.Entries) || scanned.Size != b.TOC.Size {
		t.Fatalf("TOC read from the file:\n%+v\ndiffers from the tar headers:\n%+v", b.TOC, scanned)
	}
	for _, tc := range []struct {
		name string
		opts EncodeOptions
	}{
		{"raw", EncodeOptions{}},
		{"compressed", EncodeOptions{Compress: true}},
		{"small frames", EncodeOptions{FrameSize: 16 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			if err := b.WriteFile(path, tc.opts); err != nil {
				t.Fatal(err)
			}
			if err := verifyFile(path); err != nil {
				t.Errorf("re-encoded bundle: %v", err)
			}
			if err := bundle.Validate(path); err != nil {
				t.Errorf("re-encoded bundle: %v", err)
			}
			if got := tarList(t, path); got != nil && !slices.Equal(got, entryNames(b.TOC)) {
				t.Errorf("tar --zstd -tf lists\n%q\nwant\n%q", got, entryNames(b.TOC))
			}
		})
	}
}

func entryNames(t TOC) []string {
	var names []string
	for _, e := range t.Entries {
		names = append(names, e.Name)
	}
	return names
}

// tarList runs `tar --zstd -tf`, or returns nil when tar or zstd is missing.
func tarList(t *testing.T, path string) []string {
	t.Helper()
	for _, tool := range []string{"tar", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("%s not installed: not listing with tar", tool)
			return nil
		}
	}
	out, err := exec.Command("tar", "--zstd", "-tf", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tar --zstd -tf: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// streamOf decodes a bundle file as plain zstd does.
func streamOf(t *testing.T, path string) *tar.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	dec, err := zstd.NewReader(f, zstd.WithDecoderMaxWindow(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dec.Close)
	return tar.NewReader(dec)
}

func TestIndexJSON(t *testing.T) {
	first := []json.RawMessage{json.RawMessage(`{"digest":"sha256:a"}`)}
	for _, n := range []int{0, 1, 3} {
		var idx struct {
			SchemaVersion int
			Manifests     []map[string]string
		}
		if err := json.Unmarshal(IndexJSON(first, json.RawMessage(`{"digest":"sha256:b"}`), n), &idx); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if idx.SchemaVersion != 2 || len(idx.Manifests) != n+1 || idx.Manifests[0]["digest"] != "sha256:a" {
			t.Errorf("n=%d: got %+v", n, idx)
		}
	}
}

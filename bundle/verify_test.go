package bundle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

// entryFrame returns the compressed byte range of the first frame of entry
// name.
func entryFrame(t *testing.T, data []byte, name string) (int64, int64) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := r.Entry(name)
	if !ok {
		t.Fatalf("no entry %s", name)
	}
	f := r.frames[frameAt(r.frames, e.Header)]
	return f.cOff, f.cSize
}

func TestVerifyNamesCorruptBlob(t *testing.T) {
	fx := newFixture(t)
	clean := fx.writeBytes(t, WriterOptions{FrameSize: 64 << 10})
	config := fx.blobs[slices.IndexFunc(fx.blobs, func(b testBlob) bool { return b.desc.MediaType == "application/vnd.oci.image.config.v1+json" })]
	tests := []struct {
		name     string
		blob     testBlob
		flipAt   func(t *testing.T) int64
		artifact string
	}{
		{"byte in a raw gzip layer", fx.shared, func(t *testing.T) int64 {
			i := bytes.Index(clean, fx.shared.data[100_000:100_064])
			if i < 0 {
				t.Fatal("shared layer bytes not found verbatim in the bundle")
			}
			return int64(i) + 10
		}, refPilot},
		{"byte in a compressed config frame", config, func(t *testing.T) int64 {
			off, size := entryFrame(t, clean, blobName(config.desc.Digest))
			return off + size/2
		}, refPilot},
		{"byte in the compressed plain layer", fx.plain, func(t *testing.T) int64 {
			off, size := entryFrame(t, clean, blobName(fx.plain.desc.Digest))
			return off + size - 6
		}, refProxy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Clone(clean)
			data[tt.flipAt(t)] ^= 0x40
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(context.Background(), r, VerifyOptions{Concurrency: 2})
			if err == nil {
				t.Fatal("Verify = nil error, want one naming the corrupt blob")
			}
			p := rep.First()
			t.Log(err)
			e, _ := r.Entry(blobName(tt.blob.desc.Digest))
			if p == nil || p.Check != CheckBlobs || p.Digest != tt.blob.desc.Digest || p.Entry != e.Name || p.Offset != e.Offset {
				t.Fatalf("first problem = %v, want check %s on %s at offset %d", p, CheckBlobs, tt.blob.desc.Digest, e.Offset)
			}
			if !slices.Contains(p.Artifacts, tt.artifact) {
				t.Errorf("problem artifacts = %v, want %s among them", p.Artifacts, tt.artifact)
			}
			if c := rep.Check(CheckBlobs); c.Count != 1 {
				t.Errorf("blobs check has %d problems, want 1: %v", c.Count, c.Problems)
			}
		})
	}
}

func TestVerifyMetadataChecks(t *testing.T) {
	tests := []struct {
		name   string
		change func(fx *fixture)
		check  string
	}{
		{"BOM lacks a blob", func(fx *fixture) { fx.bom.Blobs = fx.bom.Blobs[1:] }, CheckBOM},
		{"BOM lists an absent blob", func(fx *fixture) {
			fx.bom.Blobs = append(fx.bom.Blobs, Blob{Digest: digest.FromString("x").String(), Size: 1})
		}, CheckBOM},
		{"BOM blob size differs", func(fx *fixture) { fx.bom.Blobs[0].Size++ }, CheckBOM},
		{"index entry without artifact", func(fx *fixture) { fx.bom.Artifacts = fx.bom.Artifacts[:1] }, CheckIndex},
		{"artifact not in index", func(fx *fixture) { fx.index.Manifests = fx.index.Manifests[:1] }, CheckIndex},
		{"referenced layer missing", func(fx *fixture) {
			i := slices.IndexFunc(fx.blobs, func(b testBlob) bool { return b.desc.Digest == fx.plain.desc.Digest })
			fx.blobs = slices.Delete(fx.blobs, i, i+1)
			fx.bom.Blobs = slices.Delete(fx.bom.Blobs, i, i+1)
		}, CheckGraph},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			tt.change(fx)
			data := fx.writeBytes(t, WriterOptions{})
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(context.Background(), r, VerifyOptions{})
			if err == nil {
				t.Fatal("Verify = nil error, want a failed check")
			}
			t.Log(err)
			if p := rep.First(); p == nil || p.Check != tt.check {
				t.Errorf("first problem = %v, want one from check %q", p, tt.check)
			}
		})
	}
}

func TestTruncatedAndCorruptFiles(t *testing.T) {
	fx := newFixture(t)
	clean := fx.writeBytes(t, WriterOptions{FrameSize: 64 << 10})
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"first 100 bytes", clean[:100]},
		{"half", clean[:len(clean)/2]},
		{"last byte cut", clean[:len(clean)-1]},
		{"footer cut", clean[:len(clean)-9]},
		{"garbage", bytes.Repeat([]byte{0x5a}, 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "cut.tar.zst", tt.data)
			r, err := Open(path)
			t.Log(err)
			if err == nil {
				// A cut in the index frames leaves the data readable
				// sequentially, but never a conformant bundle.
				defer r.Close()
				if r.Stats().Seekable {
					t.Fatalf("Open(truncated) is seekable, want an error or a sequential reader")
				}
				if err := Validate(path); !errors.Is(err, ErrInvalidBundle) {
					t.Errorf("Validate = %v, want ErrInvalidBundle", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("Open = %v, want an error wrapping ErrInvalidBundle", err)
			}
		})
	}
}

func TestValidateRejectsForeignTar(t *testing.T) {
	requireTool(t, "zstd")
	requireTool(t, "tar")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	os.WriteFile(filepath.Join(src, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
	path := filepath.Join(dir, "foreign.tar.zst")
	run(t, "", "sh", "-c", `tar -C "$0" -c blobs oci-layout index.json | zstd -q -o "$1"`, src, path)
	err := Validate(path)
	if !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("Validate(tar made by tar) = %v, want ErrInvalidBundle (no seek table)", err)
	}
}

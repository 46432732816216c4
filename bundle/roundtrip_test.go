package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRoundTrip(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name string
		opts CreateOptions
	}{
		{"defaults", CreateOptions{}},
		{"small frames", CreateOptions{WriterOptions: WriterOptions{FrameSize: 16 << 10}}},
		{"level 19", CreateOptions{WriterOptions: WriterOptions{Level: 19}}},
		{"split", CreateOptions{SplitSize: 100 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mesh.tar.zst")
			fx.writeFile(t, path, tt.opts)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx := context.Background()
			for _, b := range fx.blobs {
				rc, err := r.Fetch(ctx, b.desc)
				if err != nil {
					t.Fatalf("Fetch(%s): %v", b.desc.Digest, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, b.data) {
					t.Fatalf("Fetch(%s): got %d bytes (err %v), want %d bytes", b.desc.Digest, len(got), err, len(b.data))
				}
			}
			if got, want := r.Stats().Blobs, len(fx.blobs); got != want {
				t.Errorf("Stats().Blobs = %d, want %d", got, want)
			}
			n := 0
			for _, e := range r.Entries() {
				if e.Name == blobName(fx.shared.desc.Digest) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("shared layer stored %d times, want 1", n)
			}
			bom, err := r.BOM()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&fx.bom, bom); diff != "" {
				t.Errorf("BOM() mismatch (-want +got):\n%s", diff)
			}
			if lock, err := r.File(LockName); err != nil || !bytes.Equal(lock, fx.lock) {
				t.Errorf("File(%s) = %q, %v; want %q", LockName, lock, err, fx.lock)
			}
			for i, ref := range []string{refPilot, refProxy} {
				got, err := r.Resolve(ctx, ref)
				if err != nil || got.Digest != fx.index.Manifests[i].Digest {
					t.Errorf("Resolve(%q) = %s, %v; want %s", ref, got.Digest, err, fx.index.Manifests[i].Digest)
				}
			}
			if _, err := r.Resolve(ctx, "istio/nope:1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve(unknown) error = %v, want ErrNotFound", err)
			}
			if rep, err := Verify(ctx, r, VerifyOptions{}); err != nil {
				t.Errorf("Verify: %v\n%+v", err, rep)
			}
		})
	}
}

func TestEntryOrder(t *testing.T) {
	fx := newFixture(t)
	data := fx.writeBytes(t, WriterOptions{})
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.Entries() {
		if !isBlobName(e.Name) {
			got = append(got, e.Name)
		}
	}
	want := []string{OCILayoutName, IndexName, "meshpack/", BOMName, LockName, "blobs/", "blobs/sha256/"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("non-blob entries (-want +got):\n%s", diff)
	}
	if n := len(r.Entries()) - len(want); n != len(fx.blobs) {
		t.Errorf("got %d blob entries, want %d", n, len(fx.blobs))
	}
	// Deterministic: the same input gives the same bytes.
	if again := fx.writeBytes(t, WriterOptions{}); !bytes.Equal(again, data) {
		t.Errorf("second write differs from the first")
	}
}

// countingReaderAt counts bytes read.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// withBigBlob is the fixture plus a 3 MiB gzip layer stored last, written
// with 256 KiB frames so that the layer spans many frames.
func withBigBlob(t *testing.T, seed uint64) (*fixture, testBlob, []byte) {
	t.Helper()
	fx := newFixture(t)
	big := gzipLayer(t, seed, 3<<20)
	fx.blobs = append(fx.blobs, big)
	fx.bom.Blobs = append(fx.bom.Blobs, Blob{Digest: big.desc.Digest.String(), Size: big.desc.Size, MediaType: big.desc.MediaType})
	fx.bom.Artifacts = append(fx.bom.Artifacts, Artifact{Kind: KindFile, Name: "big", Digest: big.desc.Digest.String(), MediaType: big.desc.MediaType, Size: big.desc.Size})
	fx.index.Manifests = append(fx.index.Manifests, big.desc)
	return fx, big, fx.writeBytes(t, WriterOptions{FrameSize: 256 << 10})
}

func TestRandomAccess(t *testing.T) {
	fx, big, data := withBigBlob(t, 9)
	tests := []struct {
		name string
		blob testBlob
	}{
		{"first", fx.blobs[0]},
		{"last", big},
		{"middle", fx.blobs[len(fx.blobs)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReaderAt{r: bytes.NewReader(data)}
			r, err := NewReader(cr, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			opened := cr.n.Load()
			rc, err := r.Fetch(context.Background(), tt.blob.desc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, tt.blob.data) {
				t.Fatalf("Fetch: got %d bytes, err %v; want %d bytes", len(got), err, len(tt.blob.data))
			}
			read := cr.n.Load() - opened
			if limit := tt.blob.desc.Size + 64<<10; read > limit {
				t.Errorf("Fetch read %d bytes of a %d-byte file, want at most %d", read, len(data), limit)
			}
		})
	}
}

func TestOpenBlobAtOffset(t *testing.T) {
	_, big, data := withBigBlob(t, 11)
	tests := []struct {
		name    string
		off     int64
		wantErr string
	}{
		{"start", 0, ""},
		{"inside a later frame", big.desc.Size/2 + 12345, ""},
		{"last byte", big.desc.Size - 1, ""},
		{"end", big.desc.Size, ""},
		{"negative", -1, "offset outside"},
		{"past the end", big.desc.Size + 1, "offset outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReaderAt{r: bytes.NewReader(data)}
			r, err := NewReader(cr, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			opened := cr.n.Load()
			rc, err := r.OpenBlob(context.Background(), big.desc, tt.off)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OpenBlob(%d): got error %v, want %q", tt.off, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, big.data[tt.off:]) {
				t.Fatalf("OpenBlob(%d): got %d bytes, err %v; want the last %d bytes of the blob", tt.off, len(got), err, len(big.data)-int(tt.off))
			}
			// It starts at the frame holding off instead of reading from the blob's start.
			if read, limit := cr.n.Load()-opened, big.desc.Size-tt.off+(512<<10); read > limit {
				t.Errorf("OpenBlob(%d) read %d bytes, want at most %d", tt.off, read, limit)
			}
		})
	}
}

func TestRawFramesAndCompression(t *testing.T) {
	tests := []struct {
		name      string
		blob      testBlob
		maxRatio  float64 // compressed/uncompressed tar
		minRatio  float64
		wantRaw   bool
		frameSize int
	}{
		{"gzip layer by media type", gzipLayer(t, 5, 2<<20), 1.002, 0.99, true, 0},
		{"gzip sniffed", newBlob("application/octet-stream", gzipLayer(t, 6, 1<<20).data), 1.002, 0.99, true, 0},
		{"random data falls back to raw", newBlob(ocispec.MediaTypeImageLayer, randomBytes(7, 1<<20)), 1.002, 0.99, true, 256 << 10},
		{"compressible layer shrinks", newBlob(ocispec.MediaTypeImageLayer, bytes.Repeat([]byte("compressible text line\n"), 1<<16)), 0.05, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, WriterOptions{FrameSize: tt.frameSize})
			if err := w.AddFile(IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil {
				t.Fatal(err)
			}
			before := w.Stats()
			if err := w.Push(context.Background(), tt.blob.desc, bytes.NewReader(tt.blob.data)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			s := w.Stats()
			in := float64(tt.blob.desc.Size)
			out := float64(s.Compressed - before.Compressed)
			// The TOC and seek table are a few hundred bytes; count them too.
			if ratio := out / in; ratio > tt.maxRatio || ratio < tt.minRatio {
				t.Errorf("compressed/input = %.4f (%d of %d bytes), want %.3f..%.3f", ratio, int64(out), int64(in), tt.minRatio, tt.maxRatio)
			}
			if got := s.RawFrames > before.RawFrames; got != tt.wantRaw {
				t.Errorf("raw frames used = %v (%d), want %v", got, s.RawFrames-before.RawFrames, tt.wantRaw)
			}
			if int64(buf.Len()) != s.Compressed {
				t.Errorf("Stats().Compressed = %d, wrote %d", s.Compressed, buf.Len())
			}
		})
	}
}

func TestOrasCopyFromReader(t *testing.T) {
	fx := newFixture(t)
	data := fx.writeBytes(t, WriterOptions{})
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	// Copy the bundle's graph into a second bundle through oras-go.
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{})
	idx, _ := json.Marshal(fx.index)
	bom, _ := json.Marshal(fx.bom)
	if err := w.AddFile(IndexName, idx); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFile(BOMName, bom); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFile(LockName, fx.lock); err != nil {
		t.Fatal(err)
	}
	copyGraph(t, r, w, fx)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if rep := verify(context.Background(), r2, VerifyOptions{}, true); !rep.OK() {
		t.Errorf("copied bundle does not verify: %v", rep.err("verify"))
	}
	if got, want := r2.Stats().Blobs, len(fx.blobs); got != want {
		t.Errorf("copied bundle has %d blobs, want %d", got, want)
	}
}

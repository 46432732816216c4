package bundle

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkWrite pushes 1 GiB of gzip-like (incompressible) layers. "file"
// goes through Create/Push/Commit, fsync included: compare it with
// `dd if=/dev/zero of=X bs=4M count=256 conv=fdatasync`. "discard" writes to
// io.Discard and shows the CPU bound (sha256 of every byte).
func BenchmarkWrite(b *testing.B) {
	const blobSize, blobs = 64 << 20, 16
	data := randomBytes(42, blobSize)
	data[0], data[1] = 0x1f, 0x8b
	descs := make([]ocispec.Descriptor, blobs)
	for i := range descs {
		binary.LittleEndian.PutUint64(data[8:], uint64(i))
		descs[i] = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(data), Size: blobSize}
	}
	push := func(b *testing.B, w *Writer) {
		if err := w.AddFile(IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil {
			b.Fatal(err)
		}
		for j, d := range descs {
			binary.LittleEndian.PutUint64(data[8:], uint64(j))
			if err := w.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bench.tar.zst")
		b.SetBytes(blobSize * blobs)
		for range b.N {
			f, err := Create(path, CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			push(b, f.Writer())
			if err := f.Commit(); err != nil {
				b.Fatal(err)
			}
			s := f.Writer().Stats()
			b.ReportMetric(float64(s.Compressed)/float64(s.BlobBytes), "out/in")
			b.StopTimer()
			os.Remove(path)
			b.StartTimer()
		}
	})
	b.Run("discard", func(b *testing.B) {
		b.SetBytes(blobSize * blobs)
		for range b.N {
			w := NewWriter(io.Discard, WriterOptions{})
			push(b, w)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRandomAccess fetches the first and the last of 16 blobs of
// 4 MiB: both should cost the same.
func BenchmarkRandomAccess(b *testing.B) {
	const blobSize, blobs = 4 << 20, 16
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{})
	if err := w.AddFile(IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil {
		b.Fatal(err)
	}
	var descs []ocispec.Descriptor
	for i := range blobs {
		layer := gzipLayer(b, uint64(i), blobSize)
		descs = append(descs, layer.desc)
		if err := w.Push(context.Background(), layer.desc, bytes.NewReader(layer.data)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "ra.tar.zst")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, bc := range []struct {
		name string
		desc ocispec.Descriptor
	}{{"first", descs[0]}, {"last", descs[len(descs)-1]}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(bc.desc.Size)
			for range b.N {
				rc, err := r.Fetch(context.Background(), bc.desc)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

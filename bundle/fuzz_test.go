package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tinyBundle is a small valid bundle for fuzz seeds.
func tinyBundle(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{FrameSize: 16 << 10})
	cfg := newBlob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
	layer := gzipLayer(tb, 1, 20<<10)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg.desc, Layers: []ocispec.Descriptor{layer.desc}}
	m.SchemaVersion = 2
	man := jsonBlob(tb, ocispec.MediaTypeImageManifest, m)
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{withRef(man.desc, "x:1")}}
	idx.SchemaVersion = 2
	bom := BOM{SchemaVersion: BOMSchemaVersion, Artifacts: []Artifact{{Kind: KindImage, Digest: man.desc.Digest.String(), MediaType: man.desc.MediaType, Size: man.desc.Size}}}
	for _, b := range []testBlob{cfg, layer, man} {
		bom.Blobs = append(bom.Blobs, Blob{Digest: b.desc.Digest.String(), Size: b.desc.Size})
	}
	ib, _ := json.Marshal(idx)
	bb, _ := json.Marshal(bom)
	w.AddFile(IndexName, ib)
	w.AddFile(BOMName, bb)
	for _, b := range []testBlob{cfg, layer, man} {
		if err := w.Push(context.Background(), b.desc, bytes.NewReader(b.data)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzReader opens arbitrary bytes as a bundle and reads everything in it:
// errors are fine, panics and hangs are not.
func FuzzReader(f *testing.F) {
	good := tinyBundle(f)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[len(good)/2:])
	flipped := bytes.Clone(good)
	flipped[len(flipped)-40] ^= 0xff // inside the seek table
	f.Add(flipped)
	trailer := sumsFile([]string{"x.000"}, []string{sumA})
	f.Add(append(bytes.Clone(good), trailer...)) // cat NAME.*
	f.Add(append(bytes.Clone(good[:len(good)-1]), trailer...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer r.Close()
		ctx := context.Background()
		for _, e := range r.Entries() {
			if isBlobName(e.Name) {
				d, err := r.Resolve(ctx, "sha256:"+e.Name[len("blobs/sha256/"):])
				if err != nil {
					continue
				}
				if rc, err := r.Fetch(ctx, d); err == nil {
					io.Copy(io.Discard, rc)
					rc.Close()
				}
			} else {
				r.File(e.Name)
			}
		}
		Verify(ctx, r, VerifyOptions{Concurrency: 1})
	})
}

// FuzzSeekTable parses arbitrary bytes as the end of a seekable file.
func FuzzSeekTable(f *testing.F) {
	f.Add(tinyBundle(f))
	f.Add(appendSeekTable(nil, nil))
	f.Add(appendSeekTable(make([]byte, 20), []seekEntry{{cSize: 20, dSize: 512}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, start, err := readSeekTable(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var sum int64
		for _, fr := range frames {
			sum += fr.cSize
		}
		if sum != start || start > int64(len(data)) {
			t.Fatalf("frames add up to %d, seek table at %d of %d", sum, start, len(data))
		}
	})
}

// FuzzSumsTrailer looks for a checksum frame at the end of arbitrary bytes:
// one it finds must be the exact shape readSums accepts.
func FuzzSumsTrailer(f *testing.F) {
	trailer := sumsFile([]string{"x.000", "x.001"}, []string{sumA, sumB})
	f.Add(trailer)
	f.Add(append(tinyBundle(f), trailer...))
	f.Add(append(bytes.Clone(trailer), trailer...))
	f.Add(trailer[:len(trailer)-1])
	f.Fuzz(func(t *testing.T, data []byte) {
		start, ok := sumsTrailerStart(bytes.NewReader(data), int64(len(data)))
		if !ok {
			return
		}
		if start < 0 || start > int64(len(data))-10 {
			t.Fatalf("trailer at %d of %d bytes", start, len(data))
		}
		path := filepath.Join(t.TempDir(), "x.sha256")
		if err := os.WriteFile(path, data[start:], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readSums(path); err != nil {
			t.Fatalf("found a trailer at %d that readSums rejects: %v", start, err)
		}
	})
}

// FuzzTOC checks arbitrary TOC JSON without panicking.
func FuzzTOC(f *testing.F) {
	f.Add([]byte(`{"format":"meshpack-bundle-toc","version":1,"size":2048,"entries":[{"name":"oci-layout","header":0,"offset":512,"size":30}]}`))
	f.Add([]byte(`{"format":"meshpack-bundle-toc","version":1,"size":-1,"entries":[{"name":"../x","header":-512,"offset":0,"size":-3}]}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		var tc toc
		if json.Unmarshal(js, &tc) != nil {
			return
		}
		if checkTOC(tc, tc.Size, nil) == nil {
			for _, e := range tc.Entries {
				if e.Offset < e.Header || e.end() > tc.Size {
					t.Fatalf("accepted entry %+v outside a %d-byte stream", e, tc.Size)
				}
			}
		}
	})
}

// FuzzRawFrame checks the raw-frame decoder against klauspost's decoder.
func FuzzRawFrame(f *testing.F) {
	for _, n := range []int{0, 1, 255, 256, 70000, maxRawBlock + 1} {
		src := randomBytes(uint64(n), n)
		f.Add(appendRawFrame(nil, src, xxhash.Sum64(src)))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(1<<24))
	if err != nil {
		f.Fatal(err)
	}
	defer dec.Close()
	f.Fuzz(func(t *testing.T, frame []byte) {
		want, werr := dec.DecodeAll(frame, nil)
		segs, sok, serr := rawFrameSegments(frame, nil, true)
		got, ok, err := decodeRawFrame(bytes.Clone(frame))
		if (serr == nil && sok) != (err == nil && ok) {
			t.Fatalf("rawFrameSegments ok=%v err=%v, decodeRawFrame ok=%v err=%v", sok, serr, ok, err)
		}
		if err != nil || !ok {
			return
		}
		if joined := bytes.Join(segs, nil); !bytes.Equal(joined, got) {
			t.Fatalf("rawFrameSegments gave %d bytes, decodeRawFrame %d", len(joined), len(got))
		}
		if werr != nil {
			// klauspost accepts trailing frames we reject, never the reverse.
			t.Fatalf("decodeRawFrame accepted a frame klauspost rejects: %v", werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decodeRawFrame gave %d bytes, klauspost %d", len(got), len(want))
		}
	})
}

// FuzzRoundTrip writes arbitrary content as a blob and reads it back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint16(0), "application/octet-stream")
	f.Add(gzipLayer(f, 2, 40<<10).data, uint16(1), ocispec.MediaTypeImageLayerGzip)
	f.Add(bytes.Repeat([]byte("abc"), 30000), uint16(500), ocispec.MediaTypeImageLayer)
	f.Fuzz(func(t *testing.T, data []byte, frameExtra uint16, mediaType string) {
		blob := newBlob(mediaType, data)
		var buf bytes.Buffer
		w := NewWriter(&buf, WriterOptions{FrameSize: minFrameSize + int(frameExtra)})
		if err := w.AddFile(IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil {
			t.Fatal(err)
		}
		if err := w.Push(context.Background(), blob.desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := r.Fetch(context.Background(), blob.desc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (err %v), want %d", len(got), err, len(data))
		}
	})
}

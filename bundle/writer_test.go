package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/lattice-mesh/meshpack/progress"
)

// newIndexedWriter returns a writer with index.json added.
func newIndexedWriter(t *testing.T, buf *bytes.Buffer) *Writer {
	t.Helper()
	w := NewWriter(buf, WriterOptions{FrameSize: 16 << 10})
	if err := w.AddFile(IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPushErrors(t *testing.T) {
	small := newBlob("application/octet-stream", []byte("hello bundle"))
	large := newBlob("application/octet-stream", randomBytes(11, 100<<10))
	tests := []struct {
		name       string
		desc       ocispec.Descriptor
		content    []byte
		wantErr    error
		wantFailed bool // later calls fail too
	}{
		{"wrong digest, one frame", ocispec.Descriptor{Digest: digest.FromString("other"), Size: small.desc.Size}, small.data, ErrDigestMismatch, false},
		{"short content, one frame", small.desc, small.data[:5], ErrDigestMismatch, false},
		{"long content, one frame", small.desc, append(bytes.Clone(small.data), '!'), ErrDigestMismatch, false},
		{"wrong digest, many frames", ocispec.Descriptor{Digest: digest.FromString("other"), Size: large.desc.Size}, large.data, ErrDigestMismatch, true},
		{"short content, many frames", large.desc, large.data[:50<<10], ErrDigestMismatch, true},
		{"duplicate", small.desc, small.data, errdef.ErrAlreadyExists, false},
		{"bad digest", ocispec.Descriptor{Digest: "sha256:nothex", Size: 1}, []byte("x"), errdef.ErrInvalidDigest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := newIndexedWriter(t, &buf)
			ctx := context.Background()
			seed := newBlob("application/octet-stream", []byte("seed"))
			if err := w.Push(ctx, seed.desc, bytes.NewReader(seed.data)); err != nil {
				t.Fatal(err)
			}
			if tt.name == "duplicate" {
				if err := w.Push(ctx, small.desc, bytes.NewReader(small.data)); err != nil {
					t.Fatal(err)
				}
			}
			before := w.Stats()
			err := w.Push(ctx, tt.desc, bytes.NewReader(tt.content))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Push = %v, want %v", err, tt.wantErr)
			}
			t.Log(err)
			if !tt.wantFailed {
				if after := w.Stats(); after.Entries != before.Entries || after.Uncompressed != before.Uncompressed {
					t.Errorf("a refused push changed the stats: %+v -> %+v", before, after)
				}
			}
			next := w.Push(ctx, large.desc, bytes.NewReader(large.data))
			closeErr := w.Close()
			if tt.wantFailed {
				if next == nil || closeErr == nil {
					t.Errorf("after a partly written bad blob: Push = %v, Close = %v; want both to fail", next, closeErr)
				}
				return
			}
			if next != nil || closeErr != nil {
				t.Fatalf("after a refused push: Push = %v, Close = %v; want the writer usable", next, closeErr)
			}
			r, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(r); err != nil && !strings.Contains(err.Error(), BOMName) {
				t.Errorf("bundle after a refused push: %v", err)
			}
		})
	}
}

func TestAddFileRules(t *testing.T) {
	blob := newBlob("application/octet-stream", []byte("x"))
	tests := []struct {
		name  string
		steps func(w *Writer) error
	}{
		{"out of order", func(w *Writer) error {
			if err := w.AddFile(BOMName, []byte("{}")); err != nil {
				return nil // unexpected; make the test fail below
			}
			return w.AddFile(IndexName, []byte("{}"))
		}},
		{"duplicate", func(w *Writer) error {
			w.AddFile("meshpack/extra.txt", []byte("a"))
			return w.AddFile("meshpack/extra.txt", []byte("b"))
		}},
		{"after blobs", func(w *Writer) error {
			w.AddFile(IndexName, []byte("{}"))
			if err := w.Push(context.Background(), blob.desc, bytes.NewReader(blob.data)); err != nil {
				return nil
			}
			return w.AddFile("meshpack/late.txt", []byte("a"))
		}},
		{"foreign name", func(w *Writer) error { return w.AddFile("etc/passwd", []byte("a")) }},
		{"push before index", func(w *Writer) error {
			return w.Push(context.Background(), blob.desc, bytes.NewReader(blob.data))
		}},
		{"close without index", func(w *Writer) error { return w.Close() }},
		{"after close", func(w *Writer) error {
			w.AddFile(IndexName, []byte("{}"))
			w.Close()
			return w.AddFile("meshpack/x", nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(io.Discard, WriterOptions{})
			err := tt.steps(w)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			t.Log(err)
		})
	}
}

func TestWriterProgress(t *testing.T) {
	var events []progress.Event
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{FrameSize: 16 << 10, Progress: func(e progress.Event) { events = append(events, e) }})
	w.AddFile(IndexName, []byte("{}"))
	blob := newBlob(ocispec.MediaTypeImageLayerGzip, randomBytes(3, 40<<10))
	if err := w.Push(context.Background(), blob.desc, bytes.NewReader(blob.data)); err != nil {
		t.Fatal(err)
	}
	var kinds []progress.Kind
	var sent int64
	for _, e := range events {
		kinds = append(kinds, e.Kind)
		if e.Kind == progress.Bytes {
			sent += e.N
		}
	}
	want := []progress.Kind{progress.FileWritten, progress.FileWritten, progress.Bytes, progress.Bytes, progress.Bytes, progress.BlobDone}
	if !slicesEqual(kinds, want) {
		t.Errorf("event kinds = %v, want %v", kinds, want)
	}
	if sent != blob.desc.Size {
		t.Errorf("Bytes events add up to %d bytes, want the blob's %d", sent, blob.desc.Size)
	}
	if last := events[len(events)-1]; last.Done != blob.desc.Size || last.Descriptor.Digest != blob.desc.Digest {
		t.Errorf("last event = %+v, want the whole blob", last)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// failWriter fails every write after limit bytes.
type failWriter struct{ n, limit int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n+len(p) > f.limit {
		return 0, errors.New("disk full")
	}
	f.n += len(p)
	return len(p), nil
}

func TestWriteFailure(t *testing.T) {
	w := NewWriter(&failWriter{limit: 300 << 10}, WriterOptions{FrameSize: 64 << 10})
	if err := w.AddFile(IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)); err != nil {
		t.Fatal(err)
	}
	blob := gzipLayer(t, 8, 1<<20)
	pushErr := w.Push(context.Background(), blob.desc, bytes.NewReader(blob.data))
	closeErr := w.Close()
	if pushErr == nil && closeErr == nil {
		t.Fatal("Push and Close succeeded on a failing writer")
	}
	for _, err := range []error{pushErr, closeErr} {
		if err != nil && !strings.Contains(err.Error(), "disk full") {
			t.Errorf("error %q does not say what failed", err)
		}
	}
}

func TestTargetMethods(t *testing.T) {
	ctx := context.Background()
	blob := newBlob("application/octet-stream", []byte("target"))
	var buf bytes.Buffer
	w := newIndexedWriter(t, &buf)
	if ok, _ := w.Exists(ctx, blob.desc); ok {
		t.Error("Writer.Exists before Push = true")
	}
	if err := w.Push(ctx, blob.desc, bytes.NewReader(blob.data)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.Exists(ctx, blob.desc); !ok {
		t.Error("Writer.Exists after Push = false")
	}
	if _, err := w.Fetch(ctx, blob.desc); !errors.Is(err, errdef.ErrUnsupported) {
		t.Errorf("Writer.Fetch = %v, want ErrUnsupported", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.Exists(ctx, blob.desc); !ok {
		t.Error("Reader.Exists = false for a pushed blob")
	}
	got, err := r.Resolve(ctx, blob.desc.Digest.String())
	if err != nil || got.Digest != blob.desc.Digest || got.Size != blob.desc.Size {
		t.Errorf("Resolve(digest) = %+v, %v", got, err)
	}
	wrong := blob.desc
	wrong.Size++
	if _, err := r.Fetch(ctx, wrong); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("Fetch with a wrong size = %v, want ErrDigestMismatch", err)
	}
	if _, err := r.Fetch(ctx, newBlob("", []byte("absent")).desc); !errors.Is(err, ErrNotFound) {
		t.Errorf("Fetch(absent) = %v, want ErrNotFound", err)
	}
	r.Close()
	if _, err := r.Fetch(ctx, blob.desc); !errors.Is(err, ErrClosed) {
		t.Errorf("Fetch after Close = %v, want ErrClosed", err)
	}
}

package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/remote"
)

// fakeSource serves one blob's bytes, optionally as ranges, cutting the
// first answer to each request after cutAfter bytes (0: never).
type fakeSource struct {
	data     []byte
	ranges   bool
	seekable bool
	cutAfter int
	slow     bool // 2 ms per 8 KiB read: a link that sets the pace

	mu       sync.Mutex
	asked    map[string]int
	requests atomic.Int64
	running  atomic.Int64
	maxRun   atomic.Int64
}

type cutReader struct {
	r     io.Reader
	left  int
	slow  bool
	done  func()
	close sync.Once
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, errors.New("connection reset by peer (injected)")
	}
	if c.slow {
		time.Sleep(2 * time.Millisecond)
		p = p[:min(len(p), 8<<10)]
	}
	if c.left > 0 && len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	if c.left > 0 {
		c.left -= n
	}
	return n, err
}

func (c *cutReader) Close() error { c.close.Do(c.done); return nil }

// seekCut is a cutReader over a bytes.Reader that can seek.
type seekCut struct {
	*cutReader
	br *bytes.Reader
}

func (s *seekCut) Seek(off int64, whence int) (int64, error) { return s.br.Seek(off, whence) }

func (f *fakeSource) serve(key string, b []byte, br *bytes.Reader) io.ReadCloser {
	f.requests.Add(1)
	if n := f.running.Add(1); n > f.maxRun.Load() {
		f.maxRun.Store(n)
	}
	f.mu.Lock()
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	f.asked[key]++
	first := f.asked[key] == 1
	f.mu.Unlock()
	left := -1
	if first && f.cutAfter > 0 && len(b) > f.cutAfter {
		left = f.cutAfter
	}
	cr := &cutReader{r: bytes.NewReader(b), left: left, slow: f.slow, done: func() { f.running.Add(-1) }}
	if br != nil {
		cr.r = br
		return &seekCut{cutReader: cr, br: br}
	}
	return cr
}

func (f *fakeSource) item(label string) fetchItem {
	d := digest.FromBytes(f.data)
	it := fetchItem{
		desc:  ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(f.data))},
		label: label,
		open: func(context.Context) (io.ReadCloser, error) {
			if f.seekable {
				return f.serve("open", f.data, bytes.NewReader(f.data)), nil
			}
			return f.serve("open", f.data, nil), nil
		},
		rangeKey: "fake://" + label,
	}
	it.openRange = func(_ context.Context, off, n int64) (io.ReadCloser, error) {
		if !f.ranges {
			return nil, fmt.Errorf("fake: %w", remote.ErrNoRanges)
		}
		return f.serve(fmt.Sprintf("%d-%d", off, off+n), f.data[off:off+n], nil), nil
	}
	return it
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestPrefetch streams blobs of several sizes through the scheduler from
// sources with and without ranges, seekable or not, fast or slow, cut once
// per request: every stream must yield exactly its blob, in order, with the
// requests bounded by Conns; a slow source that serves ranges must be read
// as parallel ranges, a fast one as one request per blob.
func TestPrefetch(t *testing.T) {
	const chunk = 64 << 10
	tests := []struct {
		name      string
		sources   []*fakeSource
		wantRange bool // the large blob went as ranges
	}{
		{"slow link with ranges, every range cut once", []*fakeSource{
			{data: randomBytes(1, 10*chunk+123), ranges: true, cutAfter: chunk / 3, slow: true},
			{data: randomBytes(2, 1000), ranges: true, slow: true},
		}, true},
		{"fast source with ranges: one request per blob", []*fakeSource{
			{data: randomBytes(11, 10*chunk+123), ranges: true},
		}, false},
		{"no ranges, seekable, cut once", []*fakeSource{
			{data: randomBytes(3, 7*chunk+5), seekable: true, cutAfter: 3 * chunk},
		}, false},
		{"no ranges, not seekable, cut once", []*fakeSource{
			{data: randomBytes(4, 5*chunk), cutAfter: 2*chunk + 7},
		}, false},
		{"empty and tiny blobs between large ones, slow", []*fakeSource{
			{data: nil, ranges: true, slow: true},
			{data: randomBytes(5, 3*chunk), ranges: true, slow: true},
			{data: randomBytes(6, 1), ranges: true, slow: true},
			{data: randomBytes(7, 8*chunk+1), ranges: true, cutAfter: chunk / 2, slow: true},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// One request at a time must neither deadlock nor lose bytes.
			var one []fetchItem
			for i, s := range tt.sources {
				one = append(one, (&fakeSource{data: s.data, ranges: s.ranges, seekable: s.seekable, cutAfter: s.cutAfter, slow: s.slow}).item(fmt.Sprintf("one%d", i)))
			}
			for p := range prefetch(ctx, one, prefetchOptions{Conns: 1, Chunk: chunk, Retries: 2, Backoff: time.Millisecond}) {
				if got, err := io.ReadAll(p.r); err != nil || len(got) != int(p.item.desc.Size) {
					t.Fatalf("one request at a time: %s: %d bytes, %v", p.item.label, len(got), err)
				}
				p.r.Close()
			}
			var items []fetchItem
			for i, s := range tt.sources {
				items = append(items, s.item(fmt.Sprintf("blob%d", i)))
			}
			opts := prefetchOptions{Conns: 3, Chunk: chunk, Retries: 2, Backoff: time.Millisecond}
			i := 0
			for p := range prefetch(ctx, items, opts) {
				got, err := io.ReadAll(p.r)
				p.r.Close()
				if err != nil {
					t.Fatalf("%s: %v", p.item.label, err)
				}
				if !bytes.Equal(got, tt.sources[i].data) {
					t.Fatalf("%s: got %d bytes, not the blob's %d", p.item.label, len(got), len(tt.sources[i].data))
				}
				i++
			}
			if i != len(items) {
				t.Fatalf("got %d streams, want %d", i, len(items))
			}
			var ranged bool
			for _, s := range tt.sources {
				if m := s.maxRun.Load(); m > int64(opts.Conns) {
					t.Errorf("%d requests ran at once, want at most %d", m, opts.Conns)
				}
				s.mu.Lock()
				for k, n := range s.asked {
					if k != "open" && k != "0-1" && n > 0 {
						ranged = true
					}
				}
				s.mu.Unlock()
			}
			if ranged != tt.wantRange {
				t.Errorf("blobs fetched as ranges: %v, want %v", ranged, tt.wantRange)
			}
		})
	}
}

// TestPrefetchFailure checks that a source that keeps failing ends its
// stream with an error naming the blob and the byte reached, and that
// cancelling stops everything.
func TestPrefetchFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := &fakeSource{data: randomBytes(9, 300<<10), seekable: true}
	it := src.item("broken")
	it.open = func(context.Context) (io.ReadCloser, error) {
		return &cutReader{r: bytes.NewReader(src.data), left: 1000, done: func() {}}, nil
	}
	it.openRange = nil
	for p := range prefetch(ctx, []fetchItem{it}, prefetchOptions{Conns: 2, Chunk: 64 << 10, Retries: 1, Backoff: time.Millisecond}) {
		_, err := io.ReadAll(p.r)
		p.r.Close()
		if err == nil {
			t.Fatal("a source cut on every request yielded the whole blob")
		}
		for _, want := range []string{"broken", src.item("x").desc.Digest.String(), "at byte 1000 of"} {
			if !bytes.Contains([]byte(err.Error()), []byte(want)) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
	}
}

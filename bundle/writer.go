package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/lattice-mesh/meshpack/progress"
)

// Frame size limits and defaults.
const (
	DefaultFrameSize = 4 << 20
	DefaultLevel     = 3
	minFrameSize     = 16 << 10
	maxFrameSize     = 32 << 20
	maxFileSize      = 16 << 20 // AddFile and Reader.File
)

// WriterOptions configure a Writer. The zero value works.
type WriterOptions struct {
	// Level is the zstd compression level, 1 (fastest) to 22; 0 means
	// DefaultLevel (3). klauspost/compress maps it to its nearest level.
	Level int
	// FrameSize is the uncompressed size at which a large entry is cut into
	// another frame; 0 means DefaultFrameSize (4 MiB). Values are clamped to
	// 16 KiB..32 MiB.
	FrameSize int
	// ModTime is the mtime of every tar entry; zero means the Unix epoch, so
	// that the same content always gives the same bytes.
	ModTime time.Time
	// Progress, if set, receives FileWritten, Bytes and BlobDone events,
	// never concurrently; it must not block.
	Progress progress.Func
}

// Stats counts what a Writer wrote or a Reader holds.
type Stats struct {
	// Entries is the number of tar entries, directories included.
	Entries int
	// Blobs is the number of blobs under blobs/sha256/, BlobBytes their size.
	Blobs     int
	BlobBytes int64
	// Uncompressed is the length of the tar stream, Compressed the length of
	// the .tar.zst (both so far, for a Writer still writing).
	Uncompressed int64
	Compressed   int64
	// Frames is the number of zstd frames; RawFrames (writer only) how many
	// of them store data uncompressed.
	Frames    int
	RawFrames int
	// Seekable (reader only) is true when the bundle has a seek table and
	// TOC, so blobs are read by random access rather than a sequential scan.
	Seekable bool
}

// Ratio returns Compressed/Uncompressed, or 0 when nothing was written.
func (s Stats) Ratio() float64 {
	if s.Uncompressed == 0 {
		return 0
	}
	return float64(s.Compressed) / float64(s.Uncompressed)
}

// Writer writes a bundle as a stream: metadata files first (AddFile), then
// blobs (Push), then Close. It is a push-only oras-go content.Storage: Fetch
// is unsupported. Methods are safe for concurrent use; pushes are written one
// after another.
type Writer struct {
	opts    WriterOptions
	pipe    *pipeline
	enc     *zstd.Encoder
	encErr  error
	pushMu  sync.Mutex // held for a whole entry
	stateMu sync.Mutex // guards the fields below

	off      int64 // uncompressed offset of the next entry
	entries  []Entry
	names    map[string]bool
	blobs    map[digest.Digest]int64
	rank     int // rank of the last metadata entry
	inBlobs  bool
	closed   bool
	err      error // sticky: set when bytes of a bad entry went out
	entrySeq uint64
	blobSize int64
	hdrBuf   bytes.Buffer
	frames   atomic.Int64
}

var _ content.Storage = (*Writer)(nil)

// NewWriter returns a Writer that writes a bundle to w. Close must be called
// to finish it; Close does not close w.
func NewWriter(w io.Writer, opts WriterOptions) *Writer {
	if opts.Level <= 0 {
		opts.Level = DefaultLevel
	}
	opts.FrameSize = cmpClamp(opts.FrameSize, DefaultFrameSize, minFrameSize, maxFrameSize)
	if opts.ModTime.IsZero() {
		opts.ModTime = time.Unix(0, 0)
	}
	opts.ModTime = opts.ModTime.Truncate(time.Second)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(opts.Level)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true))
	wr := &Writer{
		opts:  opts,
		enc:   enc,
		names: make(map[string]bool),
		blobs: make(map[digest.Digest]int64),
		rank:  -1,
	}
	if err != nil {
		wr.err = fmt.Errorf("create zstd encoder: %w", err)
		return wr
	}
	wr.pipe = newPipeline(w, enc)
	return wr
}

func cmpClamp(v, def, lo, hi int) int {
	if v == 0 {
		return def
	}
	return max(lo, min(hi, v))
}

// metadataRank orders metadata entries; -1 means the name is not allowed.
func metadataRank(name string) int {
	switch name {
	case OCILayoutName:
		return 0
	case IndexName:
		return 1
	case BOMName:
		return 2
	case BOMSigName:
		return 3
	case LockName:
		return 4
	}
	if strings.HasPrefix(name, "meshpack/") && len(name) > len("meshpack/") && !strings.HasSuffix(name, "/") {
		return 5
	}
	return -1
}

// usable returns why the writer cannot take more entries, if it cannot.
// Callers hold stateMu.
func (w *Writer) usable() error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.pipe != nil {
		if err := w.pipe.failed(); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// AddFile writes a small metadata entry (at most 16 MiB). Entries must come
// before any blob and in this order: oci-layout, index.json,
// meshpack/bom.json, meshpack/bom.json.sig, meshpack/lock.yaml, then other
// meshpack/* files. oci-layout is written automatically when not added
// first.
func (w *Writer) AddFile(name string, data []byte) error {
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	w.stateMu.Lock()
	err := w.checkAddFile(name, int64(len(data)))
	w.stateMu.Unlock()
	if err != nil {
		return err
	}
	if name != OCILayoutName && w.rank < 0 {
		if err := w.addFile(OCILayoutName, []byte(OCILayoutJSON)); err != nil {
			return err
		}
	}
	return w.addFile(name, data)
}

func (w *Writer) checkAddFile(name string, size int64) error {
	if err := w.usable(); err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	r := metadataRank(name)
	switch {
	case r < 0:
		return fmt.Errorf("add %s: metadata entries are %s, %s and meshpack/* files", name, OCILayoutName, IndexName)
	case w.names[name]:
		return fmt.Errorf("add %s: %w", name, errdef.ErrAlreadyExists)
	case w.inBlobs:
		return fmt.Errorf("add %s: metadata must be added before the first blob", name)
	case r < w.rank:
		return fmt.Errorf("add %s: out of order; add oci-layout, index.json, %s, %s, %s, then other meshpack/* files", name, BOMName, BOMSigName, LockName)
	case size > metadataLimit(name):
		return fmt.Errorf("add %s: %d bytes exceeds the %d-byte limit for metadata files", name, size, metadataLimit(name))
	}
	return nil
}

// addFile writes name with its parent directories. Callers hold pushMu.
func (w *Writer) addFile(name string, data []byte) error {
	if err := w.addDirs(name); err != nil {
		return err
	}
	w.stateMu.Lock()
	w.rank = metadataRank(name)
	w.stateMu.Unlock()
	if err := w.writeEntry(context.Background(), name, int64(len(data)), bytes.NewReader(data), entryHooks{}); err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	w.opts.Progress.Emit(progress.Event{Kind: progress.FileWritten, Name: name, Done: int64(len(data)), Total: int64(len(data))})
	return nil
}

// addDirs writes the directory entries above name that are not written yet.
func (w *Writer) addDirs(name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		dir := name[:i+1]
		w.stateMu.Lock()
		done := w.names[dir]
		w.stateMu.Unlock()
		if done {
			continue
		}
		if err := w.writeEntry(context.Background(), dir, 0, nil, entryHooks{}); err != nil {
			return fmt.Errorf("add directory %s: %w", dir, err)
		}
	}
	return nil
}

// Push streams r into blobs/sha256/<hex>, verifying size and digest while it
// writes. Frames are written by a background goroutine, so an error writing
// the last frame of a blob surfaces on the next call or on Close. Pushing a digest twice returns an error wrapping
// errdef.ErrAlreadyExists and writes nothing. When the content does not match
// desc the error wraps ErrDigestMismatch; if part of the blob was already
// written (blobs larger than one frame) the writer is failed and every later
// call returns that error.
func (w *Writer) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	if err := desc.Digest.Validate(); err != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("push %q: want a valid sha256 digest: %w", desc.Digest, errdef.ErrInvalidDigest)
	}
	if desc.Size < 0 {
		return fmt.Errorf("push %s: negative size %d", desc.Digest, desc.Size)
	}
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	w.stateMu.Lock()
	err := w.usable()
	if err != nil {
		err = fmt.Errorf("push %s: %w", desc.Digest, err)
	}
	if _, dup := w.blobs[desc.Digest]; err == nil && dup {
		err = fmt.Errorf("push %s: %w", desc.Digest, errdef.ErrAlreadyExists)
	}
	if err == nil && !w.names[IndexName] {
		err = fmt.Errorf("push %s: add %s (and the BOM) before pushing blobs", desc.Digest, IndexName)
	}
	w.stateMu.Unlock()
	if err != nil {
		return err
	}
	if !w.inBlobs {
		if err := w.addDirs("blobs/sha256/x"); err != nil {
			return err
		}
		w.stateMu.Lock()
		w.inBlobs = true
		w.stateMu.Unlock()
	}
	name := "blobs/sha256/" + desc.Digest.Encoded()
	h := sha256.New()
	var reported int64
	hooks := entryHooks{
		hash:      h,
		rawByType: compressedMediaType(desc.MediaType),
		verify:    func(n int64) error { return checkDigest(desc, h, n, name) },
		progress: func(done int64) {
			w.opts.Progress.Emit(progress.Event{Kind: progress.Bytes, Name: name, Descriptor: desc, N: done - reported, Done: done, Total: desc.Size})
			reported = done
		},
	}
	if err := w.writeEntry(ctx, name, desc.Size, r, hooks); err != nil {
		return fmt.Errorf("push %s: %w", desc.Digest, err)
	}
	w.stateMu.Lock()
	w.blobs[desc.Digest] = desc.Size
	w.blobSize += desc.Size
	w.stateMu.Unlock()
	w.opts.Progress.Emit(progress.Event{Kind: progress.BlobDone, Name: name, Descriptor: desc, Done: desc.Size, Total: desc.Size})
	return nil
}

func checkDigest(desc ocispec.Descriptor, h hash.Hash, n int64, name string) error {
	if n != desc.Size {
		return &DigestError{Digest: desc.Digest, Size: desc.Size, GotSize: n, Entry: name, Offset: -1}
	}
	got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	if got != desc.Digest {
		return &DigestError{Digest: desc.Digest, Size: desc.Size, Got: got, GotSize: n, Entry: name, Offset: -1}
	}
	return nil
}

// Exists reports whether a blob with desc's digest was pushed.
func (w *Writer) Exists(_ context.Context, desc ocispec.Descriptor) (bool, error) {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	_, ok := w.blobs[desc.Digest]
	return ok, nil
}

// Fetch is not supported: a Writer only streams out. It returns an error
// wrapping errdef.ErrUnsupported.
func (w *Writer) Fetch(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	return nil, fmt.Errorf("fetch %s from a bundle writer: %w", desc.Digest, errdef.ErrUnsupported)
}

// Stats returns what was written so far.
func (w *Writer) Stats() Stats {
	w.stateMu.Lock()
	s := Stats{
		Entries:      len(w.entries),
		Blobs:        len(w.blobs),
		BlobBytes:    w.blobSize,
		Uncompressed: w.off,
		Frames:       int(w.frames.Load()),
	}
	w.stateMu.Unlock()
	if w.pipe != nil {
		s.Compressed = w.pipe.bytesOut.Load()
		s.RawFrames = int(w.pipe.rawFrames.Load())
	}
	return s
}

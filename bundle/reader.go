package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Reader reads a bundle by random access: a read-only oras-go Target
// (content.ReadOnlyStorage plus Resolve). Blobs are located through the TOC
// and the seek table and only the frames that hold them are decompressed.
// A bundle without a usable TOC or seek table (for example one re-compressed
// with plain zstd) is still read, through a sequential scan at open and for
// every fetch (slow). A Reader is safe for concurrent use.
type Reader struct {
	ra       io.ReaderAt
	size     int64
	closer   io.Closer
	frames   []frameInfo // nil without a usable seek table
	usize    int64
	entries  []Entry
	byName   map[string]int
	seekable bool
	why      string // why not seekable
	dec      *zstd.Decoder
	bufs     sync.Pool
	index    ocispec.Index
	closed   atomic.Bool

	bomOnce sync.Once
	bom     *BOM
	bomErr  error
}

var (
	_ content.ReadOnlyStorage = (*Reader)(nil)
	_ content.Resolver        = (*Reader)(nil)
)

// NewReader reads the bundle in ra, which is size bytes long. It reads the
// seek table, the TOC, oci-layout and index.json; blobs are read on demand.
// When ra ends with the checksum frame of a split bundle's NAME.sha256 (as
// after `cat NAME.* > NAME`), the bundle is the part before that frame and
// Stats reports its size without the frame.
//
// A bundle without a usable seek table or TOC is refused with an error
// matching ErrNotSeekable; NewReaderWith with AllowRescan reads it through
// a sequential scan instead.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	return NewReaderWith(ra, size, ReaderOptions{})
}

// ReaderOptions configure NewReaderWith and OpenWith. The zero value is
// what NewReader and Open use.
type ReaderOptions struct {
	// AllowRescan reads a bundle whose seek table or TOC is missing or
	// damaged (for example one re-compressed with plain zstd) by decoding
	// it sequentially: at open, and again for every blob read out of order.
	// Without it such a bundle is refused as damaged.
	AllowRescan bool
}

// ErrNotSeekable means the bundle has no usable seek table or TOC, so it
// could only be read by a slow sequential scan that was not allowed.
var ErrNotSeekable = errors.New("no usable seek table and TOC")

// NewReaderWith is NewReader with options.
func NewReaderWith(ra io.ReaderAt, size int64, opts ReaderOptions) (*Reader, error) {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(4),
		zstd.WithDecoderMaxMemory(max(maxTOCJSON, maxFrameContent)),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, fmt.Errorf("create zstd decoder: %w", err)
	}
	r := &Reader{ra: ra, size: size, dec: dec}
	if err := r.load(opts); err != nil {
		dec.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) load(opts ReaderOptions) error {
	frames, _, err := readSeekTable(r.ra, r.size)
	if errors.Is(err, errNoSeekTable) {
		// `cat NAME.*` of a split bundle appends NAME.sha256, a skippable
		// checksum frame: the bundle ends where that frame starts.
		if end, ok := sumsTrailerStart(r.ra, r.size); ok {
			if end == 0 {
				return fmt.Errorf("file is only the checksum listing (NAME.sha256) of a split bundle; open NAME or NAME.000: %w", ErrInvalidBundle)
			}
			r.size = end
			frames, _, err = readSeekTable(r.ra, r.size)
		}
	}
	switch {
	case err == nil:
		r.frames = frames
		for _, f := range frames {
			r.usize += f.dSize
		}
		err = r.loadTOC()
	case !errors.Is(err, errNoSeekTable) && !errors.Is(err, ErrInvalidBundle):
		return fmt.Errorf("read seek table: %w", err)
	}
	if err != nil {
		if !errors.Is(err, errNoSeekTable) && !errors.Is(err, ErrInvalidBundle) {
			return err
		}
		r.why = err.Error()
		if !opts.AllowRescan {
			return fmt.Errorf("the bundle is damaged or was re-compressed: %w (%s); nothing was trusted. Re-copy it from the original, or allow a slow sequential scan: %w", ErrNotSeekable, r.why, ErrInvalidBundle)
		}
		if err := r.scanTOC(); err != nil {
			return err
		}
	}
	return r.loadLayout()
}

func (r *Reader) loadTOC() error {
	if len(r.frames) == 0 {
		return formatErr(0, nil, "seek table lists no frames")
	}
	t, err := readTOC(r.ra, r.frames[len(r.frames)-1], r.frames, r.dec)
	if err != nil {
		return err
	}
	r.setEntries(t.Entries)
	r.seekable = true
	return nil
}

func (r *Reader) setEntries(es []Entry) {
	r.entries = es
	r.byName = make(map[string]int, len(es))
	for i, e := range es {
		if _, dup := r.byName[e.Name]; !dup {
			r.byName[e.Name] = i
		}
	}
}

// scanTOC builds the entry list by decoding the whole stream.
func (r *Reader) scanTOC() error {
	rr, err := r.openRange(0, -1)
	if err != nil {
		return err
	}
	defer rr.Close()
	es, n, err := scanEntries(rr, nil)
	if err != nil {
		return fmt.Errorf("scan bundle (it has no usable TOC: %s): %w", r.why, err)
	}
	r.usize = n
	r.setEntries(es)
	return nil
}

func (r *Reader) loadLayout() error {
	b, err := r.File(OCILayoutName)
	if err != nil {
		return fmt.Errorf("%w: not an OCI layout bundle: %w", ErrInvalidBundle, err)
	}
	var layout ocispec.ImageLayout
	if err := json.Unmarshal(b, &layout); err != nil || layout.Version != ocispec.ImageLayoutVersion {
		return fmt.Errorf("%s: want imageLayoutVersion %q: %w", OCILayoutName, ocispec.ImageLayoutVersion, ErrInvalidBundle)
	}
	b, err = r.File(IndexName)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if err := json.Unmarshal(b, &r.index); err != nil {
		return fmt.Errorf("%w: parse %s: %w", ErrInvalidBundle, IndexName, err)
	}
	return nil
}

// Close releases the reader and closes the files Open opened.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.dec.Close()
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Entries returns the tar entries in bundle order.
func (r *Reader) Entries() []Entry { return append([]Entry(nil), r.entries...) }

// Entry returns the entry called name.
func (r *Reader) Entry(name string) (Entry, bool) {
	i, ok := r.byName[name]
	if !ok {
		return Entry{}, false
	}
	return r.entries[i], true
}

// Index returns the parsed index.json.
func (r *Reader) Index() ocispec.Index { return r.index }

// Stats describes the bundle.
func (r *Reader) Stats() Stats {
	s := Stats{Entries: len(r.entries), Uncompressed: r.usize, Compressed: r.size, Frames: len(r.frames), Seekable: r.seekable}
	for _, e := range r.entries {
		if isBlobName(e.Name) {
			s.Blobs++
			s.BlobBytes += e.Size
		}
	}
	return s
}

// NotSeekable returns why the bundle is read sequentially, or "" when it
// has a usable seek table and TOC.
func (r *Reader) NotSeekable() string { return r.why }

// File returns the content of a metadata entry such as BOMName (the exact
// bytes the BOM signature covers). Entries larger than 16 MiB are refused.
func (r *Reader) File(name string) ([]byte, error) {
	e, ok := r.Entry(name)
	if !ok || e.Dir {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if e.Size > maxFileSize {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit for metadata files", name, e.Size, maxFileSize)
	}
	rr, err := r.openRange(e.Offset, e.Size)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	b := make([]byte, e.Size)
	if _, err := io.ReadFull(rr, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// BOM returns the parsed meshpack/bom.json.
func (r *Reader) BOM() (*BOM, error) {
	r.bomOnce.Do(func() {
		b, err := r.File(BOMName)
		if err != nil {
			r.bomErr = err
			return
		}
		var bom BOM
		if err := json.Unmarshal(b, &bom); err != nil {
			r.bomErr = fmt.Errorf("%w: parse %s: %w", ErrInvalidBundle, BOMName, err)
			return
		}
		switch {
		case bom.SchemaVersion == 1:
			r.bomErr = fmt.Errorf("%s: schemaVersion 1 (an older meshpack) does not sign %s and meshpack/* files, so this bundle cannot be proven unchanged; re-create it with this meshpack: %w", BOMName, IndexName, ErrInvalidBundle)
			return
		case bom.SchemaVersion != BOMSchemaVersion:
			r.bomErr = fmt.Errorf("%s: schemaVersion %d is not supported (want %d); use a matching meshpack: %w", BOMName, bom.SchemaVersion, BOMSchemaVersion, ErrInvalidBundle)
			return
		}
		r.bom = &bom
	})
	return r.bom, r.bomErr
}

// isBlobName reports whether name is blobs/sha256/ and 64 lowercase hex
// digits. It runs for every entry, so it does not use go-digest's regexp.
func isBlobName(name string) bool {
	hex, ok := strings.CutPrefix(name, "blobs/sha256/")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func blobName(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// Exists reports whether the bundle holds a blob with desc's digest.
func (r *Reader) Exists(_ context.Context, desc ocispec.Descriptor) (bool, error) {
	if r.closed.Load() {
		return false, ErrClosed
	}
	if desc.Digest.Validate() != nil {
		return false, nil
	}
	_, ok := r.Entry(blobName(desc.Digest))
	return ok, nil
}

// Resolve returns the index.json descriptor whose
// org.opencontainers.image.ref.name annotation is ref. A digest ("sha256:…")
// also resolves: to its index.json descriptor, or to the blob with the media
// type the BOM records.
func (r *Reader) Resolve(_ context.Context, ref string) (ocispec.Descriptor, error) {
	for _, m := range r.index.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] == ref {
			return m, nil
		}
	}
	if d, err := digest.Parse(ref); err == nil {
		for _, m := range r.index.Manifests {
			if m.Digest == d {
				return m, nil
			}
		}
		if e, ok := r.Entry(blobName(d)); ok {
			desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: e.Size}
			if bom, err := r.BOM(); err == nil {
				for _, b := range bom.Blobs {
					if b.Digest == d.String() && b.MediaType != "" {
						desc.MediaType = b.MediaType
					}
				}
			}
			return desc, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("resolve %q: no such reference in %s: %w", ref, IndexName, ErrNotFound)
}

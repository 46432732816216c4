package bundle

import (
	"context"
	_ "crypto/sha256" // digest.SHA256
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxCompressedFrame bounds one data frame as stored.
var maxCompressedFrame = int64(rawFrameSize(maxFrameContent))

// frameBuf holds one frame while it is decoded.
type frameBuf struct {
	comp, out []byte
	segs      [][]byte
}

func (r *Reader) getBuf() *frameBuf {
	if fb, ok := r.bufs.Get().(*frameBuf); ok {
		return fb
	}
	return &frameBuf{}
}

// loadFrame reads the stored bytes of frame i into fb.comp.
func (r *Reader) loadFrame(i int, fb *frameBuf) ([]byte, error) {
	f := r.frames[i]
	if f.cSize > maxCompressedFrame {
		return nil, formatErr(f.cOff, nil, "frame %d is %d bytes, larger than any bundle frame", i, f.cSize)
	}
	if int64(cap(fb.comp)) < f.cSize {
		fb.comp = make([]byte, f.cSize)
	}
	comp := fb.comp[:f.cSize]
	if n, err := r.ra.ReadAt(comp, f.cOff); n < len(comp) {
		return nil, formatErr(f.cOff, err, "read frame %d", i)
	}
	return comp, nil
}

// decompress runs the zstd decoder over comp, the stored bytes of frame i,
// into fb.out.
func (r *Reader) decompress(i int, comp []byte, fb *frameBuf) ([]byte, error) {
	f := r.frames[i]
	if int64(cap(fb.out)) < f.dSize {
		fb.out = make([]byte, f.dSize)
	}
	data, err := r.dec.DecodeAll(comp, fb.out[:0:f.dSize])
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		err = fmt.Errorf("frame would expand beyond the %d bytes the seek table allows (a decompression bomb?): %w", f.dSize, err)
	}
	if err == nil && int64(len(data)) != f.dSize {
		err = fmt.Errorf("decoded %d bytes, seek table says %d", len(data), f.dSize)
	}
	if err != nil {
		return nil, formatErr(f.cOff, err, "decode frame %d", i)
	}
	return data, nil
}

// readFrame decodes frame i. Raw frames are unpacked in place; others are
// decompressed into fb.out.
func (r *Reader) readFrame(i int, fb *frameBuf) ([]byte, error) {
	comp, err := r.loadFrame(i, fb)
	if err != nil || r.frames[i].dSize == 0 {
		return nil, err
	}
	data, ok, err := decodeRawFrame(comp)
	if err != nil {
		return nil, formatErr(r.frames[i].cOff, err, "decode frame %d", i)
	}
	if !ok {
		return r.decompress(i, comp, fb)
	}
	if int64(len(data)) != r.frames[i].dSize {
		return nil, formatErr(r.frames[i].cOff, fmt.Errorf("decoded %d bytes, seek table says %d", len(data), r.frames[i].dSize), "decode frame %d", i)
	}
	return data, nil
}

// readFrameSegments is readFrame returning the content as segments: for a
// raw frame the block payloads in place (no copy; the frame checksum is
// checked only with checksum set), for a compressed one the decoded bytes.
func (r *Reader) readFrameSegments(i int, fb *frameBuf, checksum bool) ([][]byte, error) {
	comp, err := r.loadFrame(i, fb)
	if err != nil || r.frames[i].dSize == 0 {
		return nil, err
	}
	segs, ok, err := rawFrameSegments(comp, fb.segs[:0], checksum)
	if err != nil {
		return nil, formatErr(r.frames[i].cOff, err, "decode frame %d", i)
	}
	if !ok {
		data, err := r.decompress(i, comp, fb)
		if err != nil {
			return nil, err
		}
		segs = append(segs[:0], data)
	} else if n := segmentsLen(segs); n != r.frames[i].dSize {
		return nil, formatErr(r.frames[i].cOff, fmt.Errorf("decoded %d bytes, seek table says %d", n, r.frames[i].dSize), "decode frame %d", i)
	}
	fb.segs = segs
	return segs, nil
}

func segmentsLen(segs [][]byte) int64 {
	var n int64
	for _, s := range segs {
		n += int64(len(s))
	}
	return n
}

// rangeReader reads a range of the uncompressed tar stream: frame by frame
// through the seek table, or by decoding from the start when there is none.
type rangeReader struct {
	r        *Reader
	off, end int64
	fb       *frameBuf
	cur      []byte
	segs     [][]byte // the rest of the current frame, after cur
	stream   *zstd.Decoder
	// trusted skips the frame checksum of raw frames: the caller verifies a
	// sha256 over the same bytes (Fetch, Verify) or hands them to a registry
	// that does (OpenBlob).
	trusted bool
}

// openRange returns a reader of n uncompressed bytes at off; n < 0 reads to
// the end of the stream.
func (r *Reader) openRange(off, n int64) (*rangeReader, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	rr := &rangeReader{r: r, off: off, end: off + n, fb: r.getBuf()}
	if r.frames != nil {
		if n < 0 {
			rr.end = r.usize
		}
		return rr, nil
	}
	dec, err := zstd.NewReader(io.NewSectionReader(r.ra, 0, r.size),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
	if err != nil {
		return nil, fmt.Errorf("create zstd decoder: %w", err)
	}
	rr.stream = dec
	if n < 0 {
		rr.end = 1<<63 - 1
	}
	if _, err := io.CopyN(io.Discard, dec, off); err != nil {
		rr.Close()
		return nil, ustreamErr(off, err, "decode up to the entry")
	}
	return rr, nil
}

// next returns the next bytes of the range, io.EOF at its end.
func (rr *rangeReader) next() ([]byte, error) {
	if len(rr.cur) == 0 {
		if err := rr.fill(); err != nil {
			return nil, err
		}
	}
	b := rr.cur
	rr.cur = nil
	rr.off += int64(len(b))
	return b, nil
}

func (rr *rangeReader) fill() error {
	if rr.off >= rr.end {
		return io.EOF
	}
	if rr.stream != nil {
		if rr.fb.out == nil {
			rr.fb.out = make([]byte, 256<<10)
		}
		buf := rr.fb.out[:min(int64(cap(rr.fb.out)), rr.end-rr.off)]
		n, err := rr.stream.Read(buf)
		rr.cur = buf[:n]
		if n == 0 && err == io.EOF && rr.end != 1<<63-1 {
			return ustreamErr(rr.off, io.ErrUnexpectedEOF, "stream ends inside an entry")
		}
		if n == 0 && err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return ustreamErr(rr.off, err, "decode (truncated or corrupt file?)")
		}
		return nil
	}
	if len(rr.segs) > 0 {
		rr.cur, rr.segs = rr.segs[0], rr.segs[1:]
		return nil
	}
	i := frameAt(rr.r.frames, rr.off)
	if i < 0 {
		return ustreamErr(rr.off, nil, "offset is past the end of the stream")
	}
	segs, err := rr.r.readFrameSegments(i, rr.fb, !rr.trusted)
	if err != nil {
		return err
	}
	f := rr.r.frames[i]
	// Keep the part of the frame inside [rr.off, rr.end).
	skip, keep := rr.off-f.dOff, min(f.dSize, rr.end-f.dOff)-(rr.off-f.dOff)
	for len(segs) > 0 && skip >= int64(len(segs[0])) {
		skip -= int64(len(segs[0]))
		segs = segs[1:]
	}
	out := segs[:0]
	for _, s := range segs {
		if keep <= 0 {
			break
		}
		s = s[skip:]
		skip = 0
		if int64(len(s)) > keep {
			s = s[:keep]
		}
		keep -= int64(len(s))
		out = append(out, s)
	}
	if len(out) == 0 {
		return ustreamErr(rr.off, nil, "empty frame inside an entry")
	}
	rr.cur, rr.segs = out[0], out[1:]
	return nil
}

func (rr *rangeReader) Read(p []byte) (int, error) {
	if len(rr.cur) == 0 {
		if err := rr.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, rr.cur)
	rr.cur = rr.cur[n:]
	rr.off += int64(n)
	return n, nil
}

func (rr *rangeReader) Close() error {
	if rr.stream != nil {
		rr.stream.Close()
		rr.stream = nil
	}
	if rr.fb != nil {
		rr.r.bufs.Put(rr.fb)
		rr.fb, rr.cur, rr.segs = nil, nil, nil
	}
	return nil
}

// Fetch returns a reader of the blob desc describes. The reader verifies
// size and digest: at the end of the content it returns a *DigestError
// instead of io.EOF when they do not match. A blob of another size than
// desc.Size is refused at once.
func (r *Reader) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("fetch %q: %w", desc.Digest, err)
	}
	e, ok := r.Entry(blobName(desc.Digest))
	if !ok {
		return nil, fmt.Errorf("fetch %s: %w", desc.Digest, ErrNotFound)
	}
	if e.Size != desc.Size {
		return nil, &DigestError{Digest: desc.Digest, Size: desc.Size, GotSize: e.Size, Entry: e.Name, Offset: e.Offset}
	}
	rr, err := r.openRange(e.Offset, e.Size)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", desc.Digest, err)
	}
	rr.trusted = true // the blobReader checks the sha256
	return &blobReader{rr: rr, h: desc.Digest.Algorithm().Hash(), desc: desc, entry: e}, nil
}

// OpenBlob returns the bytes of blob desc from offset off on, WITHOUT
// verifying them: it is for callers that already ran Verify over the bundle
// (bundle load) or whose consumer checks the digest anyway (a registry on
// upload), and it jumps straight to the frame holding off instead of
// decoding and hashing everything before it.
func (r *Reader) OpenBlob(ctx context.Context, desc ocispec.Descriptor, off int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := r.Entry(blobName(desc.Digest))
	if !ok {
		return nil, fmt.Errorf("open %s: %w", desc.Digest, ErrNotFound)
	}
	if e.Size != desc.Size {
		return nil, &DigestError{Digest: desc.Digest, Size: desc.Size, GotSize: e.Size, Entry: e.Name, Offset: e.Offset}
	}
	if off < 0 || off > e.Size {
		return nil, fmt.Errorf("open %s at %d: offset outside 0..%d", desc.Digest, off, e.Size)
	}
	rr, err := r.openRange(e.Offset+off, e.Size-off)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", desc.Digest, err)
	}
	rr.trusted = true
	return rr, nil
}

// blobReader verifies a blob while it is read.
type blobReader struct {
	rr    *rangeReader
	h     hash.Hash
	desc  ocispec.Descriptor
	entry Entry
	n     int64
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.rr.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	return n, b.wrap(err)
}

// WriteTo writes the blob to w straight from the decoded frames.
func (b *blobReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		p, err := b.rr.next()
		if err != nil {
			if err = b.wrap(err); errors.Is(err, io.EOF) {
				err = nil
			}
			return total, err
		}
		b.h.Write(p)
		b.n += int64(len(p))
		n, werr := w.Write(p)
		total += int64(n)
		if werr != nil {
			return total, werr
		}
	}
}

// wrap turns io.EOF into a verification result.
func (b *blobReader) wrap(err error) error {
	if err == nil {
		return nil
	}
	if !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s (%s at offset %d): %w", b.desc.Digest, b.entry.Name, b.entry.Offset, err)
	}
	got := digest.NewDigest(b.desc.Digest.Algorithm(), b.h)
	if b.n != b.desc.Size || got != b.desc.Digest {
		return &DigestError{Digest: b.desc.Digest, Size: b.desc.Size, Got: got, GotSize: b.n, Entry: b.entry.Name, Offset: b.entry.Offset}
	}
	return io.EOF
}

func (b *blobReader) Close() error { return b.rr.Close() }

package bundletest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// DefaultFrameSize is the most tar stream bytes one data frame holds, as
// meshpack writes bundles.
const DefaultFrameSize = 4 << 20

// EncodeOptions configure Encode. The zero value writes a bundle as
// meshpack would, with raw-block frames.
type EncodeOptions struct {
	// FrameSize bounds the content of a data frame; 0 means
	// DefaultFrameSize. A run of zeros larger than 4 GiB in one frame makes
	// the seek table's 32-bit size wrap: a frame that expands far beyond
	// what the seek table says.
	FrameSize int64
	// Compress compresses data frames with zstd at its best level instead
	// of storing them in raw blocks (runs of zeros are RLE blocks either
	// way).
	Compress bool
	// NoTOC leaves out the TOC frame (and its seek table entry).
	NoTOC bool
	// TOCPadding appends that many spaces to the TOC JSON, written as RLE
	// blocks: a TOC bomb, still valid JSON, a few bytes per 128 KiB.
	TOCPadding int64
	// TOCNoContentSize writes the TOC's zstd frame without a content size.
	TOCNoContentSize bool
	// NoSeekTable leaves out the seek table.
	NoSeekTable bool
	// EditSeekTable, if set, may change the seek table (the TOC frame is
	// its last entry) before it is written: a lying seek table.
	EditSeekTable func([]SeekEntry) []SeekEntry
}

// WriteFile encodes b into a new file at path.
func (b *Bundle) WriteFile(path string, opts EncodeOptions) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := b.Encode(f, opts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Encode writes b as a bundle file: data frames (a new one at every entry
// the TOC lists and every header tar would read, at the trailer, and every
// FrameSize bytes), the TOC frame, the seek table.
func (b *Bundle) Encode(w io.Writer, opts EncodeOptions) error {
	if opts.FrameSize <= 0 {
		opts.FrameSize = DefaultFrameSize
	}
	var enc *zstd.Encoder
	if opts.Compress {
		var err error
		if enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderCRC(true)); err != nil {
			return err
		}
		defer enc.Close()
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var table []SeekEntry
	cache := map[int64][]byte{} // frames of zeros by length
	bounds := b.frameBounds()
	for i := 0; i+1 < len(bounds); i++ {
		for lo := bounds[i]; lo < bounds[i+1]; lo += opts.FrameSize {
			hi := min(lo+opts.FrameSize, bounds[i+1])
			frame, sum := b.frame(lo, hi, enc, cache)
			if _, err := bw.Write(frame); err != nil {
				return err
			}
			table = append(table, SeekEntry{CompressedSize: uint32(len(frame)), DecompressedSize: uint32(hi - lo), Checksum: sum, Offset: lo})
		}
	}
	if !opts.NoTOC {
		tf, err := b.tocFrame(opts)
		if err != nil {
			return err
		}
		if _, err := bw.Write(tf); err != nil {
			return err
		}
		table = append(table, SeekEntry{CompressedSize: uint32(len(tf)), Checksum: uint32(xxhash.Sum64(nil)), Offset: b.Len()})
	}
	if opts.EditSeekTable != nil {
		table = opts.EditSeekTable(table)
	}
	if !opts.NoSeekTable {
		if _, err := bw.Write(appendSeekTable(nil, table)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// frameBounds lists where frames must start: every TOC entry, every header
// tar reads, the trailer and what follows it, and the end.
func (b *Bundle) frameBounds() []int64 {
	n := b.Len()
	bounds := []int64{0, n}
	for _, e := range b.TOC.Entries {
		bounds = append(bounds, e.Header)
	}
	entries, trailer := scan(&b.s)
	for _, e := range entries {
		bounds = append(bounds, e.Header)
	}
	if trailer >= 0 {
		bounds = append(bounds, trailer, trailer+2*BlockSize)
	}
	bounds = slices.DeleteFunc(bounds, func(x int64) bool { return x < 0 || x > n })
	slices.Sort(bounds)
	return slices.Compact(bounds)
}

// frame encodes stream bytes lo to hi as one frame and returns it with the
// seek-table checksum of its content.
func (b *Bundle) frame(lo, hi int64, enc *zstd.Encoder, cache map[int64][]byte) ([]byte, uint32) {
	var pieces []piece
	zeros := true
	var pos int64
	for _, g := range b.s.segs {
		gl := g.len()
		if pos < hi && pos+gl > lo {
			part := g.slice(max(lo-pos, 0), min(hi-pos, gl))
			if part.data != nil {
				zeros = false
				pieces = append(pieces, piece{data: part.data})
			} else {
				pieces = append(pieces, piece{n: part.zeros})
			}
		}
		pos += gl
	}
	if zeros {
		f, ok := cache[hi-lo]
		if !ok {
			f = appendFrame(nil, []piece{{n: hi - lo}}, true)
			cache[hi-lo] = f
		}
		return f, frameSum(f)
	}
	if enc == nil || hi-lo > bigFrame {
		f := appendFrame(nil, pieces, true)
		return f, frameSum(f)
	}
	content := make([]byte, hi-lo)
	b.s.readAt(content, lo)
	return enc.EncodeAll(content, nil), uint32(xxhash.Sum64(content))
}

// frameSum reads the content checksum at the end of a frame appendFrame wrote.
func frameSum(f []byte) uint32 {
	n := len(f)
	return uint32(f[n-4]) | uint32(f[n-3])<<8 | uint32(f[n-2])<<16 | uint32(f[n-1])<<24
}

// tocFrame returns the TOC skippable frame.
func (b *Bundle) tocFrame(opts EncodeOptions) ([]byte, error) {
	js, err := json.Marshal(b.TOC)
	if err != nil {
		return nil, err
	}
	payload := []byte(tocPrefix)
	if opts.TOCPadding > 0 || opts.TOCNoContentSize {
		payload = appendFrame(payload, []piece{{data: js}, {fill: ' ', n: opts.TOCPadding}}, !opts.TOCNoContentSize)
	} else {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
		if err != nil {
			return nil, err
		}
		payload = enc.EncodeAll(js, payload)
		enc.Close()
	}
	return appendSkippable(nil, tocMagic, payload), nil
}

package bundletest

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

const (
	maxBlock  = 128 << 10 // RFC 8878 Block_Maximum_Size
	blockRaw  = 0
	blockRLE  = 1
	bigFrame  = 128 << 20 // from here on frames get a window descriptor
	windowLog = 17        // 128 KiB window for such frames
)

// piece is frame content: bytes, or n copies of fill.
type piece struct {
	data []byte
	fill byte
	n    int64
}

func (p piece) len() int64 {
	if p.data != nil {
		return int64(len(p.data))
	}
	return p.n
}

// contentSum is XXH64 of the pieces' content.
func contentSum(pieces []piece) uint64 {
	d := xxhash.New()
	var run []byte
	for _, p := range pieces {
		if p.data != nil {
			d.Write(p.data)
			continue
		}
		if len(run) == 0 || run[0] != p.fill {
			run = make([]byte, maxBlock)
			for i := range run {
				run[i] = p.fill
			}
		}
		for left := p.n; left > 0; left -= int64(len(run)) {
			d.Write(run[:min(left, int64(len(run)))])
		}
	}
	return d.Sum64()
}

// appendFrame appends one zstd frame holding the pieces: raw blocks for
// bytes, RLE blocks for runs, and the content checksum. Frames under
// bigFrame are single-segment with Frame_Content_Size, as meshpack writes
// them; larger ones declare a 128 KiB window so that decoders accept them.
// Without withSize the frame does not declare its content size.
func appendFrame(dst []byte, pieces []piece, withSize bool) []byte {
	var size int64
	for _, p := range pieces {
		size += p.len()
	}
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, zstdMagic)
	const single, checksum = 1 << 5, 1 << 2
	switch {
	case !withSize:
		dst = append(dst, checksum, (windowLog-10)<<3)
	case size >= bigFrame:
		dst = append(dst, 3<<6|checksum, (windowLog-10)<<3)
		dst = le.AppendUint64(dst, uint64(size))
	case size < 256:
		dst = append(dst, single|checksum, byte(size))
	case size < 65536+256:
		dst = append(dst, 1<<6|single|checksum)
		dst = le.AppendUint16(dst, uint16(size-256))
	default:
		dst = append(dst, 2<<6|single|checksum)
		dst = le.AppendUint32(dst, uint32(size))
	}
	last := -1
	block := func(typ int, n int64) {
		last = len(dst)
		h := uint32(n)<<3 | uint32(typ)<<1
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
	}
	for _, p := range pieces {
		if p.data != nil {
			for off := 0; off < len(p.data); off += maxBlock {
				chunk := p.data[off:min(off+maxBlock, len(p.data))]
				block(blockRaw, int64(len(chunk)))
				dst = append(dst, chunk...)
			}
			continue
		}
		for left := p.n; left > 0; left -= maxBlock {
			block(blockRLE, min(left, maxBlock))
			dst = append(dst, p.fill)
		}
	}
	if last < 0 {
		block(blockRaw, 0)
	}
	dst[last] |= 1 // Last_Block
	return le.AppendUint32(dst, uint32(contentSum(pieces)))
}

// appendSkippable appends a skippable frame.
func appendSkippable(dst []byte, magic uint32, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, magic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// SeekEntry is one frame in the seek table, as written.
type SeekEntry struct {
	CompressedSize   uint32
	DecompressedSize uint32 // the low 32 bits of the real size
	Checksum         uint32 // low 32 bits of XXH64 of the content
	// Offset is where the frame's content starts in the tar stream; it is
	// not written, it helps a test pick the frame to lie about.
	Offset int64
}

// appendSeekTable appends the seek table frame of the zstd seekable format
// with checksums.
func appendSeekTable(dst []byte, entries []SeekEntry) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, seekTableMagic)
	dst = le.AppendUint32(dst, uint32(len(entries)*12+9))
	for _, e := range entries {
		dst = le.AppendUint32(dst, e.CompressedSize)
		dst = le.AppendUint32(dst, e.DecompressedSize)
		dst = le.AppendUint32(dst, e.Checksum)
	}
	dst = le.AppendUint32(dst, uint32(len(entries)))
	dst = append(dst, 1<<7)
	return le.AppendUint32(dst, seekableMagic)
}

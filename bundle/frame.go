package bundle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
)

// zstd framing constants, from RFC 8878 (Zstandard Compression and the
// application/zstd Media Type) and the zstd seekable format
// (contrib/seekable_format/zstd_seekable_compression_format.md).
const (
	zstdMagic         = 0xFD2FB528
	skippableMask     = 0xFFFFFFF0
	skippableBase     = 0x184D2A50
	seekTableMagic    = 0x184D2A5E // skippable frame holding the seek table
	tocMagic          = 0x184D2A5B // skippable frame holding the meshpack TOC
	seekableMagic     = 0x8F92EAB1 // last four bytes of a seekable file
	seekFooterSize    = 9
	maxRawBlock       = 128 << 10
	blockTypeRaw      = 0
	blockTypeReserved = 3
)

// emptySum is the low 32 bits of XXH64 of no data: the seek-table checksum of
// an empty frame such as the TOC.
var emptySum = uint32(xxhash.Sum64(nil))

// rawFrameSize is the size appendRawFrame produces for n content bytes.
func rawFrameSize(n int) int {
	blocks := (n + maxRawBlock - 1) / maxRawBlock
	if blocks == 0 {
		blocks = 1
	}
	return 4 + 1 + fcsLen(n) + 3*blocks + n + 4
}

func fcsLen(n int) int {
	switch {
	case n < 256:
		return 1
	case n < 65536+256:
		return 2
	case uint64(n) <= math.MaxUint32:
		return 4
	}
	return 8
}

// appendRawFrame appends to dst one zstd frame that stores src in raw blocks
// (Block_Type 0): a single-segment frame with Frame_Content_Size and the
// content checksum sum (XXH64 of src). No compressor runs; src is copied.
func appendRawFrame(dst, src []byte, sum uint64) []byte {
	n := len(src)
	dst = binary.LittleEndian.AppendUint32(dst, zstdMagic)
	const single, checksum = 1 << 5, 1 << 2
	switch fcsLen(n) {
	case 1:
		dst = append(dst, single|checksum, byte(n))
	case 2:
		dst = append(dst, 1<<6|single|checksum)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n-256))
	case 4:
		dst = append(dst, 2<<6|single|checksum)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	default:
		dst = append(dst, 3<<6|single|checksum)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(n))
	}
	off := 0
	for {
		sz := min(maxRawBlock, n-off)
		last := 0
		if off+sz == n {
			last = 1
		}
		h := uint32(sz)<<3 | blockTypeRaw<<1 | uint32(last)
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
		dst = append(dst, src[off:off+sz]...)
		off += sz
		if last == 1 {
			break
		}
	}
	return binary.LittleEndian.AppendUint32(dst, uint32(sum))
}

// appendSkippable appends a skippable frame with the given magic and payload.
func appendSkippable(dst []byte, magic uint32, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, magic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// frameHeader is the parsed header of a zstd frame.
type frameHeader struct {
	size        int   // header length including the magic
	contentSize int64 // -1 when absent
	checksum    bool
}

var errShortFrame = errors.New("frame is truncated")

// parseFrameHeader parses the frame header at the start of b
// (RFC 8878 section 3.1.1.1).
func parseFrameHeader(b []byte) (frameHeader, error) {
	if len(b) < 5 {
		return frameHeader{}, errShortFrame
	}
	if m := binary.LittleEndian.Uint32(b); m != zstdMagic {
		return frameHeader{}, fmt.Errorf("bad frame magic %#x", m)
	}
	fd := b[4]
	if fd&(1<<3) != 0 {
		return frameHeader{}, errors.New("reserved bit set in frame header")
	}
	single := fd&(1<<5) != 0
	fcsCode := fd >> 6
	h := frameHeader{size: 5, contentSize: -1, checksum: fd&(1<<2) != 0}
	if !single {
		h.size++ // window descriptor
	}
	h.size += [4]int{0, 1, 2, 4}[fd&3] // dictionary ID
	fcs := [4]int{0, 2, 4, 8}[fcsCode]
	if fcsCode == 0 && single {
		fcs = 1
	}
	if len(b) < h.size+fcs {
		return frameHeader{}, errShortFrame
	}
	p := b[h.size : h.size+fcs]
	switch fcs {
	case 1:
		h.contentSize = int64(p[0])
	case 2:
		h.contentSize = int64(binary.LittleEndian.Uint16(p)) + 256
	case 4:
		h.contentSize = int64(binary.LittleEndian.Uint32(p))
	case 8:
		v := binary.LittleEndian.Uint64(p)
		if v > math.MaxInt64 {
			return frameHeader{}, errors.New("frame content size overflows")
		}
		h.contentSize = int64(v)
	}
	h.size += fcs
	return h, nil
}

// decodeRawFrame decodes frame in place when all its blocks are raw and
// returns the content (a prefix of frame) and true. It returns false, with no
// change to frame, when a block is compressed, so the caller must run a real
// decoder. Errors mean the frame is malformed.
func decodeRawFrame(frame []byte) ([]byte, bool, error) {
	segs, ok, err := rawFrameSegments(frame, nil, true)
	if err != nil || !ok {
		return nil, ok, err
	}
	// Move the block contents down over the block headers.
	n := 0
	for _, seg := range segs {
		n += copy(frame[n:], seg)
	}
	return frame[:n], true, nil
}

// rawFrameSegments returns the block payloads of a frame made only of raw
// blocks as slices of frame, appended to segs, without moving any byte (the
// block headers stay between them). With checksum set it also checks the
// frame content checksum; callers that verify a sha256 of the same bytes
// skip it. ok is false, with nothing returned, for a frame holding a
// compressed block: the caller must decode it.
func rawFrameSegments(frame []byte, segs [][]byte, checksum bool) (_ [][]byte, ok bool, err error) {
	h, err := parseFrameHeader(frame)
	if err != nil {
		return segs, false, err
	}
	start := len(segs)
	pos, total := h.size, 0
	for {
		if len(frame)-pos < 3 {
			return segs[:start], false, errShortFrame
		}
		bh := uint32(frame[pos]) | uint32(frame[pos+1])<<8 | uint32(frame[pos+2])<<16
		typ, sz := (bh>>1)&3, int(bh>>3)
		if typ != blockTypeRaw {
			if typ == blockTypeReserved {
				return segs[:start], false, errors.New("reserved block type")
			}
			return segs[:start], false, nil
		}
		if sz > maxRawBlock || len(frame)-pos-3 < sz {
			return segs[:start], false, errShortFrame
		}
		if sz > 0 {
			segs = append(segs, frame[pos+3:pos+3+sz])
		}
		pos += 3 + sz
		total += sz
		if bh&1 == 1 {
			break
		}
	}
	end := pos
	if h.checksum {
		end += 4
	}
	if end != len(frame) {
		return segs[:start], false, fmt.Errorf("frame has %d bytes, blocks end at %d", len(frame), end)
	}
	if h.contentSize >= 0 && h.contentSize != int64(total) {
		return segs[:start], false, fmt.Errorf("frame content size says %d, blocks hold %d", h.contentSize, total)
	}
	if checksum && h.checksum {
		d := xxhash.New()
		for _, s := range segs[start:] {
			d.Write(s)
		}
		if uint32(d.Sum64()) != binary.LittleEndian.Uint32(frame[pos:]) {
			return segs[:start], false, errors.New("frame content checksum mismatch")
		}
	}
	return segs, true, nil
}

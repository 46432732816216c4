package bundle

import (
	"encoding/binary"
	"errors"
	"io"
	"sort"
)

// Limits that keep a hostile file from making the reader allocate much. They
// are checked before anything is parsed; each is far above what a real
// bundle needs (a 500 GiB bundle has about 130,000 frames and a TOC of about
// 20 MiB of JSON per million entries).
const (
	maxFrameContent = 64 << 20                                    // decompressed bytes in one frame
	maxFrames       = 1 << 20                                     // frames in the seek table
	maxSeekTable    = 8 + maxFrames*seekEntryLen + seekFooterSize // bytes of seek table frame
	maxTOCFrame     = 16 << 20                                    // bytes of TOC frame payload as stored
	maxTOCJSON      = 32 << 20                                    // bytes of TOC JSON
	maxTOCPerFrame  = 512                                         // TOC JSON bytes per frame (an entry starts a frame)
	seekEntryLen    = 12                                          // with checksums, as this package writes
)

// errNoSeekTable means the file does not end in a seekable-format footer.
var errNoSeekTable = errors.New("no zstd seek table at the end of the file")

// seekEntry is one frame as recorded in the seek table.
type seekEntry struct {
	cSize, dSize, sum uint32
}

// frameInfo locates one frame in the file and in the uncompressed stream.
type frameInfo struct {
	cOff, cSize int64
	dOff, dSize int64
	sum         uint32
	hasSum      bool
}

// appendSeekTable appends the seek table frame of the zstd seekable format
// (contrib/seekable_format/zstd_seekable_compression_format.md), with
// checksums.
func appendSeekTable(dst []byte, entries []seekEntry) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, seekTableMagic)
	dst = le.AppendUint32(dst, uint32(len(entries)*seekEntryLen+seekFooterSize))
	for _, e := range entries {
		dst = le.AppendUint32(dst, e.cSize)
		dst = le.AppendUint32(dst, e.dSize)
		dst = le.AppendUint32(dst, e.sum)
	}
	dst = le.AppendUint32(dst, uint32(len(entries)))
	dst = append(dst, 1<<7) // Checksum_Flag
	return le.AppendUint32(dst, seekableMagic)
}

// readSeekTable reads the seek table at the end of ra. It returns the frames
// and the offset where the seek table frame starts. errNoSeekTable means
// there is none; a *FormatError means it is present but inconsistent.
func readSeekTable(ra io.ReaderAt, size int64) ([]frameInfo, int64, error) {
	if size < 8+seekFooterSize {
		return nil, 0, errNoSeekTable
	}
	var foot [seekFooterSize]byte
	if _, err := ra.ReadAt(foot[:], size-seekFooterSize); err != nil {
		return nil, 0, err
	}
	le := binary.LittleEndian
	if le.Uint32(foot[5:]) != seekableMagic {
		return nil, 0, errNoSeekTable
	}
	return parseSeekTable(ra, size, foot)
}

func parseSeekTable(ra io.ReaderAt, size int64, foot [seekFooterSize]byte) ([]frameInfo, int64, error) {
	le := binary.LittleEndian
	n := int64(le.Uint32(foot[:]))
	desc := foot[4]
	footOff := size - seekFooterSize
	if desc&0x7c != 0 {
		return nil, 0, formatErr(footOff, nil, "seek table descriptor %#x has reserved bits set", desc)
	}
	es := int64(8)
	if desc&(1<<7) != 0 {
		es = 12
	}
	tableLen := 8 + n*es + seekFooterSize
	if tableLen > size || tableLen > maxSeekTable {
		return nil, 0, formatErr(footOff, nil, "seek table of %d frames does not fit in a %d-byte file", n, size)
	}
	start := size - tableLen
	buf := make([]byte, tableLen)
	if _, err := ra.ReadAt(buf, start); err != nil {
		return nil, 0, err
	}
	if m := le.Uint32(buf); m != seekTableMagic {
		return nil, 0, formatErr(start, nil, "seek table frame magic is %#x, want %#x", m, uint32(seekTableMagic))
	}
	if fs := int64(le.Uint32(buf[4:])); fs != tableLen-8 {
		return nil, 0, formatErr(start, nil, "seek table frame size is %d, want %d for %d frames", fs, tableLen-8, n)
	}
	frames := make([]frameInfo, n)
	var cOff, dOff int64
	for i := range frames {
		p := buf[8+int64(i)*es:]
		f := frameInfo{cOff: cOff, dOff: dOff, cSize: int64(le.Uint32(p)), dSize: int64(le.Uint32(p[4:]))}
		if es == 12 {
			f.sum, f.hasSum = le.Uint32(p[8:]), true
		}
		if f.cSize < 8 || f.dSize > maxFrameContent {
			return nil, 0, formatErr(start, nil, "seek table entry %d: implausible frame of %d compressed, %d decompressed bytes", i, f.cSize, f.dSize)
		}
		cOff += f.cSize
		dOff += f.dSize
		if cOff > start {
			return nil, 0, formatErr(start, nil, "seek table frames run past the seek table (frame %d ends at %d)", i, cOff)
		}
		frames[i] = f
	}
	if cOff != start {
		return nil, 0, formatErr(start, nil, "seek table frames add up to %d bytes, the seek table starts at %d", cOff, start)
	}
	return frames, start, nil
}

// frameAt returns the index of the frame holding uncompressed offset off, or
// -1. Empty frames never hold an offset.
func frameAt(frames []frameInfo, off int64) int {
	i := sort.Search(len(frames), func(i int) bool { return frames[i].dOff+frames[i].dSize > off })
	if i == len(frames) || frames[i].dOff > off {
		return -1
	}
	return i
}

// frameStartsAt reports whether a non-empty frame starts exactly at off.
func frameStartsAt(frames []frameInfo, off int64) bool {
	i := frameAt(frames, off)
	return i >= 0 && frames[i].dOff == off
}

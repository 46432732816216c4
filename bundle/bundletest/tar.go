package bundletest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lattice-mesh/meshpack/bundle"
)

// BlockSize is the tar block size.
const BlockSize = 512

// Tar type flags the hostile cases use.
const (
	TypeReg     = '0'
	TypeLink    = '1'
	TypeSymlink = '2'
	TypeChar    = '3'
	TypeBlock   = '4'
	TypeDir     = '5'
	TypeFIFO    = '6'
)

// Header is one ustar header block, field by field. Unlike archive/tar it
// formats any combination of fields, valid or not, so a test can write the
// headers a hostile bundle holds (a symlink with data, a device in the blobs).
type Header struct {
	Name     string // split into ustar prefix and name when longer than 100 bytes
	Mode     int64
	Uid, Gid int64
	Size     int64
	ModTime  int64 // seconds since the Unix epoch
	Typeflag byte
	Linkname string
	Devmajor int64
	Devminor int64
}

// FileHeader is the header meshpack writes for a regular file (or, for a
// name ending in "/", a directory) of size bytes: mode 0644 or 0755, root,
// mtime 0.
func FileHeader(name string, size int64) Header {
	if strings.HasSuffix(name, "/") {
		return Header{Name: name, Mode: 0o755, Typeflag: TypeDir}
	}
	return Header{Name: name, Mode: 0o644, Size: size, Typeflag: TypeReg}
}

// Block formats h as one 512-byte ustar block with a correct checksum, as
// archive/tar writes it. Numbers too large for octal use the base-256 form
// (GNU), which archive/tar and GNU tar both read.
func (h Header) Block() []byte {
	b := make([]byte, BlockSize)
	name, prefix := h.Name, ""
	if len(name) > 100 {
		if i := strings.LastIndex(name[:min(len(name), 156)], "/"); i > 0 && len(name)-i-1 <= 100 {
			prefix, name = name[:i], name[i+1:]
		}
	}
	copy(b[0:100], name)
	putNumber(b[100:108], h.Mode)
	putNumber(b[108:116], h.Uid)
	putNumber(b[116:124], h.Gid)
	putNumber(b[124:136], h.Size)
	putNumber(b[136:148], h.ModTime)
	b[156] = h.Typeflag
	copy(b[157:257], h.Linkname)
	copy(b[257:265], "ustar\x0000")
	putNumber(b[329:337], h.Devmajor)
	putNumber(b[337:345], h.Devminor)
	copy(b[345:500], prefix)
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// putNumber writes x into field as zero-padded octal with a NUL, or in the
// base-256 form when it does not fit.
func putNumber(field []byte, x int64) {
	s := strconv.FormatInt(x, 8)
	if x >= 0 && len(s) < len(field) {
		copy(field, strings.Repeat("0", len(field)-1-len(s))+s)
		field[len(field)-1] = 0
		return
	}
	clear(field)
	binary.BigEndian.PutUint64(field[len(field)-8:], uint64(x))
	field[0] |= 0x80
}

// ParseHeader parses a ustar (or GNU) header block without checking its
// checksum. It fails only when block is not 512 bytes or is all zeros.
func ParseHeader(block []byte) (Header, error) {
	if len(block) != BlockSize {
		return Header{}, fmt.Errorf("header block is %d bytes", len(block))
	}
	if bytes.Count(block, []byte{0}) == BlockSize {
		return Header{}, errors.New("zero block (end of archive)")
	}
	h := Header{
		Name: cstr(block[0:100]), Mode: number(block[100:108]), Uid: number(block[108:116]),
		Gid: number(block[116:124]), Size: number(block[124:136]), ModTime: number(block[136:148]),
		Typeflag: block[156], Linkname: cstr(block[157:257]),
		Devmajor: number(block[329:337]), Devminor: number(block[337:345]),
	}
	if p := cstr(block[345:500]); string(block[257:263]) == "ustar\x00" && p != "" {
		h.Name = p + "/" + h.Name
	}
	return h, nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func number(b []byte) int64 {
	if len(b) > 0 && b[0]&0x80 != 0 {
		var x int64
		for i, c := range b {
			if i == 0 {
				c &= 0x7f
			}
			x = x<<8 | int64(c)
		}
		return x
	}
	s := strings.Trim(string(b), " \x00")
	x, _ := strconv.ParseInt(s, 8, 64)
	return x
}

// TarEntry returns h's header block followed by data and the zero padding to
// the next block: one complete tar entry. h.Size is set to len(data) first.
func TarEntry(h Header, data []byte) []byte {
	h.Size = int64(len(data))
	out := append(h.Block(), data...)
	return append(out, make([]byte, pad(h.Size))...)
}

// TarFile returns a complete tar entry for a regular file as meshpack
// writes it (see FileHeader).
func TarFile(name string, data []byte) []byte {
	return TarEntry(FileHeader(name, int64(len(data))), data)
}

func pad(n int64) int64 { return (BlockSize - n%BlockSize) % BlockSize }

func roundBlock(n int64) int64 { return n + pad(n) }

// isExtension reports whether a typeflag is a header that describes the
// next header (pax, GNU long name or long link).
func isExtension(t byte) bool { return t == 'x' || t == 'L' || t == 'K' }

// scan walks the tar stream the way tar does, header by header, without
// trusting the TOC. It returns the entries found (an entry preceded by pax
// or GNU long-name headers starts at the first of them) and the offset of
// the end-of-archive zero blocks, or -1 when the stream ends without them.
// Headers after the end-of-archive blocks are returned too: data appended
// after the trailer is what a lenient reader would see.
func scan(s *stream) (entries []bundle.Entry, trailer int64) {
	trailer = -1
	block := make([]byte, BlockSize)
	start := int64(-1)
	for pos := int64(0); pos+BlockSize <= s.len(); {
		s.readAt(block, pos)
		h, err := ParseHeader(block)
		if err != nil {
			if trailer < 0 {
				trailer = pos
			}
			pos += BlockSize
			start = -1
			continue
		}
		if start < 0 {
			start = pos
		}
		next := pos + BlockSize + roundBlock(max(h.Size, 0))
		if h.Size < 0 || next < pos {
			return entries, trailer
		}
		if !isExtension(h.Typeflag) {
			entries = append(entries, bundle.Entry{
				Name: h.Name, Dir: h.Typeflag == TypeDir, Header: start,
				Offset: pos + BlockSize, Size: h.Size,
			})
			start = -1
		}
		pos = next
	}
	return entries, trailer
}

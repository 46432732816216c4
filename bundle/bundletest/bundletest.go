// Package bundletest crafts hostile meshpack bundles for tests.
//
// Read decodes a real bundle into its uncompressed tar stream and its TOC.
// A test then edits the two independently (an edit states what becomes of
// the TOC, see TOCMode: keeping the original TOC while the stream changes is
// the attack; Insert at Len appends after the tar trailer; IndexJSON writes
// wide indexes) and Encode writes a new bundle in the format of bundle/doc.go:
// every tar entry starts a zstd frame, then the TOC skippable frame, then the
// seek table, with options that make the seek table lie or drop it, and for
// TOC bombs. Runs of zeros (InsertZeros) are never held in memory and are
// written as RLE blocks, so an 8 GiB zero bomb is a few hundred KiB. Split
// writes a bundle as split parts with NAME.sha256.
//
// The package is for tests only. It checks little: producing what a valid
// writer never would is its purpose.
package bundletest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/lattice-mesh/meshpack/bundle"
)

// TOC is the table of contents stored in a bundle's TOC frame.
type TOC struct {
	Format  string         `json:"format"`
	Version int            `json:"version"`
	Size    int64          `json:"size"` // length of the tar stream
	Entries []bundle.Entry `json:"entries"`
}

// zstd and meshpack framing constants (RFC 8878, zstd seekable format,
// bundle/doc.go).
const (
	zstdMagic      = 0xFD2FB528
	tocMagic       = 0x184D2A5B
	seekTableMagic = 0x184D2A5E
	sumsMagic      = 0x184D2A5C
	seekableMagic  = 0x8F92EAB1
	tocPrefix      = "MPKTOC01"
	tocFormat      = "meshpack-bundle-toc"
)

// Bundle is a bundle taken apart: its tar stream and its TOC, edited
// independently. The zero value is an empty bundle.
type Bundle struct {
	// TOC is what Encode writes in the TOC frame. Edits update it as their
	// TOCMode says; a test may also change it directly.
	TOC TOC
	s   stream
}

// Read reads the bundle file at path (a single file, not a split part).
func Read(path string) (*Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("bundletest: %s: %w", path, err)
	}
	return b, nil
}

// Decode takes a bundle apart. It reads the TOC from the TOC frame that
// the seek table locates; without one it decodes the whole file and builds
// the TOC from the tar headers, as a sequential scan would. The tar stream
// is held in memory: decode real bundles, not bombs.
func Decode(data []byte) (*Bundle, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	end, toc, err := readTOC(data, dec)
	if err != nil {
		return nil, err
	}
	if err := dec.Reset(bytes.NewReader(data[:end])); err != nil {
		return nil, err
	}
	tarStream, err := io.ReadAll(dec)
	if err != nil {
		return nil, fmt.Errorf("decode tar stream: %w", err)
	}
	b := &Bundle{s: stream{segs: []segment{{data: tarStream}}}}
	if toc == nil {
		b.TOC = b.ScanTOC()
	} else {
		b.TOC = *toc
	}
	return b, nil
}

// readTOC finds the seek table and the TOC frame. It returns the offset
// where the data frames end and the TOC, or len(data) and nil when the
// file has no seek table and TOC.
func readTOC(data []byte, dec *zstd.Decoder) (int64, *TOC, error) {
	le := binary.LittleEndian
	n := int64(len(data))
	if n < 17 || le.Uint32(data[n-4:]) != seekableMagic {
		return n, nil, nil
	}
	frames := int64(le.Uint32(data[n-9:]))
	tableLen := 8 + frames*12 + 9
	if data[n-5]&0x80 == 0 || tableLen > n || frames == 0 {
		return 0, nil, errors.New("seek table without checksums or too long")
	}
	table := data[n-tableLen:]
	last := table[8+(frames-1)*12:]
	tocLen := int64(le.Uint32(last))
	tocOff := n - tableLen - tocLen
	if tocOff < 0 || le.Uint32(last[4:]) != 0 {
		return n, nil, nil
	}
	f := data[tocOff : tocOff+tocLen]
	if tocLen < 16 || le.Uint32(f) != tocMagic || string(f[8:16]) != tocPrefix {
		return n, nil, nil
	}
	js, err := dec.DecodeAll(f[16:], nil)
	if err != nil {
		return 0, nil, fmt.Errorf("decode TOC: %w", err)
	}
	var t TOC
	if err := json.Unmarshal(js, &t); err != nil {
		return 0, nil, fmt.Errorf("parse TOC: %w", err)
	}
	return tocOff, &t, nil
}

// New builds a bundle holding entries (complete tar entries, such as
// TarFile returns, in order) and the tar trailer, with a TOC that lists
// them.
func New(entries ...[]byte) *Bundle {
	b := &Bundle{TOC: TOC{Format: tocFormat, Version: 1}}
	var all []byte
	for _, e := range entries {
		all = append(all, e...)
	}
	all = append(all, make([]byte, 2*BlockSize)...)
	b.s.segs = []segment{{data: all}}
	b.TOC = b.ScanTOC()
	return b
}

// Clone returns an independent copy of b (the bytes are shared, never
// changed in place).
func (b *Bundle) Clone() *Bundle {
	c := &Bundle{TOC: b.TOC, s: *b.s.clone()}
	c.TOC.Entries = append([]bundle.Entry(nil), b.TOC.Entries...)
	return c
}

// Len is the length of the tar stream.
func (b *Bundle) Len() int64 { return b.s.len() }

// Bytes returns n bytes of the tar stream from offset off.
func (b *Bundle) Bytes(off, n int64) []byte {
	p := make([]byte, n)
	b.s.readAt(p, off)
	return p
}

// ScanTOC returns the TOC that describes the tar stream as its headers
// say: every entry tar would see before the end-of-archive blocks.
func (b *Bundle) ScanTOC() TOC {
	entries, trailer := scan(&b.s)
	t := TOC{Format: tocFormat, Version: 1, Size: b.Len()}
	for _, e := range entries {
		if trailer >= 0 && e.Header >= trailer {
			break
		}
		t.Entries = append(t.Entries, e)
	}
	return t
}

// Entry returns the TOC entry called name.
func (b *Bundle) Entry(name string) (bundle.Entry, bool) {
	for _, e := range b.TOC.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return bundle.Entry{}, false
}

// mustEntry is Entry with an error naming the missing entry.
func (b *Bundle) mustEntry(name string) (bundle.Entry, error) {
	e, ok := b.Entry(name)
	if !ok {
		return e, fmt.Errorf("bundletest: no entry %q in the TOC", name)
	}
	return e, nil
}

// File returns the data of the entry called name, as the TOC locates it.
func (b *Bundle) File(name string) ([]byte, error) {
	e, err := b.mustEntry(name)
	if err != nil {
		return nil, err
	}
	return b.Bytes(e.Offset, e.Size), nil
}

// End is the offset of the tar trailer: just past the last TOC entry's
// padding (0 for an empty TOC).
func (b *Bundle) End() int64 {
	if n := len(b.TOC.Entries); n > 0 {
		e := b.TOC.Entries[n-1]
		return e.Offset + roundBlock(e.Size)
	}
	return 0
}

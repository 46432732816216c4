package bundletest

import (
	"fmt"
	"slices"

	"github.com/lattice-mesh/meshpack/bundle"
)

// TOCMode says what an edit of the tar stream does to the TOC.
type TOCMode int

const (
	// TOCList updates the TOC as an honest writer would: inserted tar
	// entries are listed, removed ones dropped, later offsets move.
	TOCList TOCMode = iota
	// TOCHide keeps inserted bytes out of the TOC's entry list while the
	// TOC stays consistent with the stream: the entry whose header starts
	// at the insertion point claims them as header blocks (its Header stays,
	// its data Offset moves; bundle/doc.go allows up to 64 KiB of header),
	// later entries move, and Size grows. Inserted at the end of the last
	// entry, the bytes sit between it and the trailer.
	TOCHide
	// TOCKeep leaves the TOC exactly as it was.
	TOCKeep
)

// Insert inserts data (usually complete tar entries) into the tar stream at
// offset at and updates the TOC as mode says.
func (b *Bundle) Insert(at int64, data []byte, mode TOCMode) error {
	if err := b.s.splice(at, 0, segment{data: data}); err != nil {
		return err
	}
	b.shiftTOC(at, int64(len(data)), mode)
	if mode == TOCList {
		var in Bundle
		in.s.segs = []segment{{data: data}}
		added, _ := scan(&in.s)
		for i := range added {
			added[i].Header += at
			added[i].Offset += at
		}
		i := b.entryIndexAt(at)
		b.TOC.Entries = slices.Insert(b.TOC.Entries, i, added...)
	}
	return nil
}

// InsertZeros inserts a tar entry for name holding size zero bytes at
// offset at (a zero bomb: the zeros are never held in memory and Encode
// writes them as RLE blocks), updating the TOC as mode says.
func (b *Bundle) InsertZeros(at int64, name string, size int64, mode TOCMode) error {
	h := FileHeader(name, size)
	err := b.s.splice(at, 0, segment{data: h.Block()}, segment{zeros: size}, segment{zeros: pad(size)})
	if err != nil {
		return err
	}
	n := BlockSize + roundBlock(size)
	b.shiftTOC(at, n, mode)
	if mode == TOCList {
		e := bundle.Entry{Name: name, Header: at, Offset: at + BlockSize, Size: size}
		b.TOC.Entries = slices.Insert(b.TOC.Entries, b.entryIndexAt(at), e)
	}
	return nil
}

// entryIndexAt is the index of the first TOC entry whose header is at or
// after off.
func (b *Bundle) entryIndexAt(off int64) int {
	i, _ := slices.BinarySearchFunc(b.TOC.Entries, off, func(e bundle.Entry, off int64) int {
		return cmpInt(e.Header, off)
	})
	return i
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// shiftTOC moves the TOC after n bytes were inserted at off (n < 0: removed).
func (b *Bundle) shiftTOC(off, n int64, mode TOCMode) {
	if mode == TOCKeep {
		return
	}
	b.TOC.Size += n
	for i := range b.TOC.Entries {
		e := &b.TOC.Entries[i]
		switch {
		case e.Header > off || (e.Header == off && mode == TOCList):
			e.Header += n
			e.Offset += n
		case e.Header == off: // TOCHide: the entry claims the bytes as header
			e.Offset += n
		}
	}
}

// InsertBefore inserts data just before the header of the entry called
// name (see Insert).
func (b *Bundle) InsertBefore(name string, data []byte, mode TOCMode) error {
	e, err := b.mustEntry(name)
	if err != nil {
		return err
	}
	return b.Insert(e.Header, data, mode)
}

// Remove removes the entry called name (header, data and padding) from the
// stream and, unless mode is TOCKeep, from the TOC.
func (b *Bundle) Remove(name string, mode TOCMode) error {
	e, err := b.mustEntry(name)
	if err != nil {
		return err
	}
	n := e.Offset + roundBlock(e.Size) - e.Header
	if err := b.s.splice(e.Header, n); err != nil {
		return err
	}
	if mode == TOCKeep {
		return nil
	}
	b.TOC.Entries = slices.DeleteFunc(b.TOC.Entries, func(x bundle.Entry) bool { return x.Name == name })
	b.shiftTOC(e.Header, -n, TOCList)
	return nil
}

// ReplaceFile replaces the data of the entry called name, fixing its tar
// header's size and the TOC (an honest rewrite: only the content changes).
func (b *Bundle) ReplaceFile(name string, data []byte) error {
	e, err := b.mustEntry(name)
	if err != nil {
		return err
	}
	oldLen := roundBlock(e.Size)
	if err := b.s.splice(e.Offset, oldLen, segment{data: data}, segment{zeros: pad(int64(len(data)))}); err != nil {
		return err
	}
	if err := b.SetHeader(name, func(h *Header) { h.Size = int64(len(data)) }); err != nil {
		return err
	}
	delta := roundBlock(int64(len(data))) - oldLen
	for i := range b.TOC.Entries {
		x := &b.TOC.Entries[i]
		if x.Name == name {
			x.Size = int64(len(data))
		} else if x.Header > e.Header {
			x.Header += delta
			x.Offset += delta
		}
	}
	b.TOC.Size += delta
	return nil
}

// HeaderAt parses the header block at offset off.
func (b *Bundle) HeaderAt(off int64) (Header, error) {
	return ParseHeader(b.Bytes(off, BlockSize))
}

// SetHeaderAt rewrites the header block at off through edit (the checksum
// is recomputed). The TOC does not change.
func (b *Bundle) SetHeaderAt(off int64, edit func(*Header)) error {
	h, err := b.HeaderAt(off)
	if err != nil {
		return fmt.Errorf("bundletest: header at %d: %w", off, err)
	}
	edit(&h)
	return b.s.splice(off, BlockSize, segment{data: h.Block()})
}

// SetHeader rewrites the last header block of the entry called name (the
// one after any pax or long-name blocks) through edit. The TOC does not
// change: changing the size, type or name makes header and TOC disagree.
func (b *Bundle) SetHeader(name string, edit func(*Header)) error {
	e, err := b.mustEntry(name)
	if err != nil {
		return err
	}
	return b.SetHeaderAt(e.Offset-BlockSize, edit)
}

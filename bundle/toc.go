package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// TOC format identifiers. The TOC frame payload is tocPrefix followed by one
// zstd frame holding the JSON of toc.
const (
	tocFormat  = "meshpack-bundle-toc"
	tocVersion = 1
	tocPrefix  = "MPKTOC01"
	blockSize  = 512 // tar block
)

// Entry is one tar entry of a bundle. Offsets are in the uncompressed tar
// stream.
type Entry struct {
	// Name is the tar name; directories end in "/".
	Name string `json:"name"`
	Dir  bool   `json:"dir,omitempty"`
	// Header is the offset of the entry's first header block.
	Header int64 `json:"header"`
	// Offset is the offset of the entry's data, Size its length.
	Offset int64 `json:"offset"`
	Size   int64 `json:"size"`
}

// end is the offset just past the entry's data padding.
func (e Entry) end() int64 { return e.Offset + roundBlock(e.Size) }

func roundBlock(n int64) int64 { return (n + blockSize - 1) &^ (blockSize - 1) }

// toc is the table of contents stored in the TOC frame.
type toc struct {
	Format  string  `json:"format"`
	Version int     `json:"version"`
	Size    int64   `json:"size"` // uncompressed tar stream length
	Entries []Entry `json:"entries"`
}

// appendTOCFrame appends the TOC skippable frame.
func appendTOCFrame(dst []byte, enc *zstd.Encoder, t toc) ([]byte, error) {
	js, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode toc: %w", err)
	}
	payload := enc.EncodeAll(js, []byte(tocPrefix))
	return appendSkippable(dst, tocMagic, payload), nil
}

// readTOC reads and checks the TOC frame f. It returns an error when the
// frame is not a TOC or does not describe a tar stream of the frames' size.
func readTOC(ra io.ReaderAt, f frameInfo, frames []frameInfo, dec *zstd.Decoder) (toc, error) {
	var t toc
	if f.dSize != 0 || f.cSize < 8+int64(len(tocPrefix)) || f.cSize > 8+maxTOCFrame {
		return t, formatErr(f.cOff, nil, "last frame is not a meshpack TOC")
	}
	buf := make([]byte, f.cSize)
	if _, err := ra.ReadAt(buf, f.cOff); err != nil {
		return t, err
	}
	le := binary.LittleEndian
	if le.Uint32(buf) != tocMagic || int64(le.Uint32(buf[4:])) != f.cSize-8 || !bytes.HasPrefix(buf[8:], []byte(tocPrefix)) {
		return t, formatErr(f.cOff, nil, "last frame is not a meshpack TOC")
	}
	z := buf[8+len(tocPrefix):]
	h, err := parseFrameHeader(z)
	// Bound the JSON before decoding it: every entry starts a frame, so a
	// TOC needs a few hundred bytes per frame at most.
	if limit := min(maxTOCJSON, 1024+maxTOCPerFrame*int64(len(frames))); err == nil && (h.contentSize < 0 || h.contentSize > limit) {
		err = fmt.Errorf("TOC declares %d bytes of JSON; at most %d are plausible for %d frames", h.contentSize, limit, len(frames))
	}
	if err != nil {
		return t, formatErr(f.cOff, err, "decompress TOC")
	}
	js, err := dec.DecodeAll(z, make([]byte, 0, h.contentSize))
	if err == nil && int64(len(js)) != h.contentSize {
		err = fmt.Errorf("got %d bytes, want %d", len(js), h.contentSize)
	}
	if err != nil {
		return t, formatErr(f.cOff, err, "decompress TOC")
	}
	if err := json.Unmarshal(js, &t); err != nil {
		return t, formatErr(f.cOff, err, "parse TOC")
	}
	var usize int64
	for _, fr := range frames {
		usize += fr.dSize
	}
	if err := checkTOC(t, usize, frames); err != nil {
		return t, formatErr(f.cOff, err, "TOC")
	}
	return t, nil
}

// checkTOC checks that t describes a contiguous tar stream of usize bytes
// whose entries each start a frame (when frames is not nil).
func checkTOC(t toc, usize int64, frames []frameInfo) error {
	if t.Format != tocFormat {
		return fmt.Errorf("format %q, want %q", t.Format, tocFormat)
	}
	if t.Version != tocVersion {
		return fmt.Errorf("version %d is not supported (this meshpack reads version %d); use a newer meshpack", t.Version, tocVersion)
	}
	if t.Size != usize {
		return fmt.Errorf("says %d uncompressed bytes, frames hold %d", t.Size, usize)
	}
	seen := make(map[string]bool, len(t.Entries))
	var next int64
	for _, e := range t.Entries {
		if err := checkEntry(e, next); err != nil {
			return err
		}
		if seen[e.Name] {
			return fmt.Errorf("entry %s appears twice", e.Name)
		}
		seen[e.Name] = true
		if frames != nil && !frameStartsAt(frames, e.Header) {
			return fmt.Errorf("entry %s at %d does not start a frame", e.Name, e.Header)
		}
		next = e.end()
	}
	if next+2*blockSize > t.Size {
		return fmt.Errorf("no room for the tar trailer after %d in %d bytes", next, t.Size)
	}
	return nil
}

// checkEntry checks one entry that should start at offset next.
func checkEntry(e Entry, next int64) error {
	name := strings.TrimSuffix(e.Name, "/")
	if !fs.ValidPath(name) || name == "." || e.Dir != strings.HasSuffix(e.Name, "/") {
		return fmt.Errorf("entry name %q is not a clean relative path", e.Name)
	}
	switch {
	case e.Header != next:
		return fmt.Errorf("entry %s header at %d, want %d", e.Name, e.Header, next)
	case e.Offset-e.Header < blockSize || e.Offset-e.Header > 64<<10 || e.Offset%blockSize != 0:
		return fmt.Errorf("entry %s data at %d does not follow its header at %d", e.Name, e.Offset, e.Header)
	case e.Size < 0 || e.Size > 1<<50 || (e.Dir && e.Size != 0):
		return fmt.Errorf("entry %s has size %d", e.Name, e.Size)
	}
	return nil
}

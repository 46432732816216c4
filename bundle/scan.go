package bundle

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxTrailer bounds the bytes after the last entry: the two zero blocks
// that end a tar archive, and at most the rest of a 10 KiB tar record as
// GNU tar pads. Anything longer is not a trailer.
const maxTrailer = 10240

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// entryScanner reads a tar stream one entry at a time and holds every entry
// to the format's rules: one header (ustar, or pax with only path and size
// records) per regular file or directory, with the deterministic mode and
// owner the Writer writes, data, zero padding, and a trailer of zero blocks.
// Each entry gets a fresh tar.Reader so that the scanner, not archive/tar,
// reads (and checks) the padding between entries.
type entryScanner struct {
	cr   *countingReader
	base int64 // stream offset of the first byte read
}

func newEntryScanner(r io.Reader, base int64) *entryScanner {
	return &entryScanner{cr: &countingReader{r: r}, base: base}
}

func (s *entryScanner) off() int64 { return s.base + s.cr.n }

// next reads the next entry's header blocks. It returns the entry and a
// reader of exactly its data, or io.EOF at the tar trailer.
func (s *entryScanner) next() (Entry, io.Reader, error) {
	start := s.off()
	tr := tar.NewReader(s.cr)
	h, err := tr.Next()
	if errors.Is(err, io.EOF) {
		// archive/tar also says EOF when the stream just ends: insist on
		// the two zero blocks that end a tar archive.
		if s.off()-start != 2*blockSize {
			return Entry{}, nil, ustreamErr(start, nil, "stream ends without a tar trailer")
		}
		return Entry{}, nil, io.EOF
	}
	if err != nil {
		return Entry{}, nil, scanErr(start, err, "read tar header")
	}
	e := Entry{Name: h.Name, Dir: h.Typeflag == tar.TypeDir, Header: start, Offset: s.off(), Size: h.Size}
	if err := checkHeader(h); err != nil {
		return e, nil, ustreamErr(start, nil, "tar header of %q: %s", h.Name, err)
	}
	return e, tr, nil
}

// finish reads what is left of e's data through data, then e's padding,
// which must be zero bytes.
func (s *entryScanner) finish(e Entry, data io.Reader) error {
	if _, err := io.Copy(io.Discard, data); err != nil {
		return scanErr(e.Offset, err, "read "+e.Name)
	}
	return s.zeros(e.end()-e.Offset-e.Size, "padding after "+e.Name)
}

// trailer reads the rest of the stream, which must be zero bytes (the tar
// end-of-archive blocks, already consumed by next, and record padding).
func (s *entryScanner) trailer() error {
	return s.zeros(-1, "tar trailer")
}

// zeros reads n bytes (n < 0: to the end, at most maxTrailer) and checks
// that every one is zero.
func (s *entryScanner) zeros(n int64, what string) error {
	start := s.off()
	limit := n
	if n < 0 {
		limit = maxTrailer + 1
	}
	var buf [blockSize]byte
	var read int64
	for read < limit {
		m, err := s.cr.Read(buf[:min(int64(len(buf)), limit-read)])
		for i, b := range buf[:m] {
			if b != 0 {
				return ustreamErr(start+read+int64(i), nil, "%s holds a non-zero byte; nothing but zero padding may follow an entry or the trailer", what)
			}
		}
		read += int64(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return scanErr(s.off(), err, "read "+what)
		}
	}
	switch {
	case n >= 0 && read < n:
		return ustreamErr(s.off(), io.ErrUnexpectedEOF, "stream ends inside the %s", what)
	case n < 0 && read > maxTrailer:
		return ustreamErr(start, nil, "%s is longer than %d bytes; data after the end of the tar archive is not allowed", what, maxTrailer)
	}
	return nil
}

// checkHeader holds a tar header to the format's rules (doc.go). A header
// that archive/tar and GNU tar could read differently from the TOC, or that
// would make tar create anything but a plain file or directory, fails.
func checkHeader(h *tar.Header) error {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	default:
		return fmt.Errorf("tar type %q; a bundle holds only regular files and directories", h.Typeflag)
	}
	wantMode := int64(0o644)
	if h.Typeflag == tar.TypeDir {
		wantMode = 0o755
		if !strings.HasSuffix(h.Name, "/") {
			return errors.New("directory name does not end in /")
		}
	} else if strings.HasSuffix(h.Name, "/") {
		return errors.New("file name ends in /")
	} else if IsExecutableName(h.Name) {
		wantMode = 0o755
	}
	for k := range h.PAXRecords {
		if k != "path" && k != "size" {
			return fmt.Errorf("pax record %q is not allowed (only path and size)", k)
		}
	}
	switch {
	case h.Format&tar.FormatGNU != 0:
		return errors.New("GNU tar extensions are not allowed")
	case h.Linkname != "":
		return fmt.Errorf("link target %q on a %s", h.Linkname, kindOf(h))
	case h.Mode != wantMode:
		return fmt.Errorf("mode %#o, a bundle %s has %#o", h.Mode, kindOf(h), wantMode)
	case h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "":
		return errors.New("owner is not uid/gid 0 without names")
	case h.Devmajor != 0 || h.Devminor != 0:
		return errors.New("device numbers set")
	}
	return nil
}

func kindOf(h *tar.Header) string {
	if h.Typeflag == tar.TypeDir {
		return "directory"
	}
	return "file"
}

// scanEntries reads a tar stream sequentially, checking it as entryScanner
// does, and returns its entries with their offsets and the stream length.
// fn, if set, sees each entry with a reader of its data.
func scanEntries(r io.Reader, fn func(Entry, io.Reader) error) ([]Entry, int64, error) {
	s := newEntryScanner(r, 0)
	var entries []Entry
	var next int64
	for {
		e, data, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if err := checkEntry(e, next); err != nil {
			return nil, 0, ustreamErr(e.Header, err, "tar entry")
		}
		if fn != nil {
			if err := fn(e, data); err != nil {
				return nil, 0, err
			}
		}
		if err := s.finish(e, data); err != nil {
			return nil, 0, err
		}
		entries = append(entries, e)
		next = e.end()
	}
	if err := s.trailer(); err != nil {
		return nil, 0, err
	}
	return entries, s.off(), nil
}

// scanErr wraps a tar or decode error, keeping a *FormatError from below.
func scanErr(off int64, err error, what string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	return ustreamErr(off, err, "%s", what)
}

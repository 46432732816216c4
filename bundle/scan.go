package bundle

import (
	"archive/tar"
	"errors"
	"io"
	"strings"
)

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

// scanEntries reads a tar stream sequentially and returns its entries with
// their offsets, and the stream length (read to its very end). fn, if set,
// sees each entry with a reader of its data.
func scanEntries(r io.Reader, fn func(Entry, io.Reader) error) ([]Entry, int64, error) {
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	var entries []Entry
	var next int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, scanErr(next, err, "read tar header")
		}
		e := Entry{Name: h.Name, Header: next, Offset: cr.n, Size: h.Size}
		switch h.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir:
			e.Dir = true
			if !strings.HasSuffix(e.Name, "/") {
				e.Name += "/"
			}
		default:
			return nil, 0, ustreamErr(next, nil, "entry %s has tar type %q; a bundle holds only files and directories", h.Name, h.Typeflag)
		}
		if fn != nil {
			if err := fn(e, tr); err != nil {
				return nil, 0, err
			}
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return nil, 0, scanErr(e.Offset, err, "read "+e.Name)
		}
		entries = append(entries, e)
		next = e.end()
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, 0, scanErr(cr.n, err, "read past the tar trailer")
	}
	if cr.n < next+2*blockSize {
		return nil, 0, ustreamErr(cr.n, nil, "stream ends without a tar trailer")
	}
	return entries, cr.n, nil
}

// scanErr wraps a tar or decode error, keeping a *FormatError from below.
func scanErr(off int64, err error, what string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	return ustreamErr(off, err, "%s", what)
}

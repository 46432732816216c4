package bundle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// Expansion bounds: an entry whose frames decompress more than
// maxExpansion times, beyond maxExpansionFloor bytes, is refused as a
// decompression bomb. Image layers are stored raw (1×), and JSON or YAML
// compresses perhaps 20×; only crafted input reaches 1000×.
const (
	maxExpansion      = 1000
	maxExpansionFloor = 64 << 20
)

// readEntry reads entry e from its first header block to the end of its
// padding and proves that the tar stream holds exactly what the TOC says
// there: header blocks that parse to e and nothing else (entryScanner's
// rules), then e.Size bytes of data, which fn sees when set, then zero
// padding. This is what `tar -x` will see, so a bundle whose every entry and
// trailer passes extracts to exactly the TOC's entries.
func (r *Reader) readEntry(e Entry, fn func(io.Reader) error) error {
	rr, err := r.openRange(e.Header, e.end()-e.Header)
	if err != nil {
		return err
	}
	defer rr.Close()
	rr.trusted = true // every byte is checked here or hashed by fn
	s := newEntryScanner(rr, e.Header)
	got, data, err := s.next()
	switch {
	case errors.Is(err, io.EOF):
		return ustreamErr(e.Header, nil, "the TOC lists %s at this offset, the tar stream has its trailer there", e.Name)
	case err != nil:
		return err
	case got != e:
		return ustreamErr(e.Header, nil, "tar header disagrees with the TOC: the header says %s (data at %d, %d bytes), the TOC says %s (data at %d, %d bytes)",
			got.Name, got.Offset, got.Size, e.Name, e.Offset, e.Size)
	}
	if fn != nil {
		if err := fn(data); err != nil {
			return err
		}
	}
	return s.finish(e, data)
}

// checkStructure checks what the TOC does not cover by itself: every
// non-blob entry's header and padding (blobs are checked as they are hashed),
// that each metadata file is listed in the BOM with its sha256 (so the BOM
// signature covers it), that the bytes after the last entry are a tar
// trailer, that only the TOC frame is empty (an empty frame could hide data
// that plain zstd would decode), and that no entry is a decompression bomb.
// Problems go to c; the entries refused as bombs are returned, so that
// nobody decodes them.
func checkStructure(r *Reader, bom *BOM, c *Check) (bombs map[string]bool) {
	if r.seekable {
		// Without a seek table the sequential scan that hashes the blobs
		// checks headers, padding and trailer as it reads.
		for i, f := range r.frames[:len(r.frames)-1] {
			if f.dSize == 0 {
				c.add(&Problem{Entry: "(zstd frames)", Offset: f.cOff, Err: formatErr(f.cOff, nil, "frame %d decodes to nothing in the seek table; only the TOC frame may (plain zstd would decode what it holds)", i)})
			}
		}
		bombs = checkExpansion(r, c)
		c.add(checkTrailer(r))
	}
	listed := map[string]MetadataFile{}
	if bom != nil {
		for _, f := range bom.Files {
			listed[f.Name] = f
		}
	}
	nFiles := len(listed)
	for _, e := range r.entries {
		if isBlobName(e.Name) {
			continue
		}
		c.add(checkMetadataEntry(r, e, listed, bom != nil))
		delete(listed, e.Name)
	}
	if bom != nil {
		for _, f := range bom.Files { // in BOM order, not map order
			if _, absent := listed[f.Name]; absent {
				c.add(&Problem{Entry: f.Name, Offset: -1, Err: fmt.Errorf("listed in the BOM's files but not in the bundle: %w", ErrNotFound)})
			}
		}
	}
	c.Summary = fmt.Sprintf("%d tar headers, padding and trailer as the TOC says; %d metadata files signed by the BOM", len(r.entries), nFiles)
	return bombs
}

// checkMetadataEntry reads a non-blob entry and compares a file with its
// BOM record. withBOM is false when the BOM is unreadable (reported
// elsewhere).
func checkMetadataEntry(r *Reader, e Entry, listed map[string]MetadataFile, withBOM bool) *Problem {
	if limit := metadataLimit(e.Name); e.Size > limit {
		return &Problem{Entry: e.Name, Offset: e.Offset, Err: fmt.Errorf("%d bytes exceeds the %d-byte limit for metadata files", e.Size, limit)}
	}
	signedByItself := e.Name == BOMName || e.Name == BOMSigName
	want, ok := listed[e.Name]
	var got digest.Digest
	err := r.readEntry(e, func(data io.Reader) error {
		if e.Dir || signedByItself || !ok {
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, data); err != nil {
			return err
		}
		got = digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
		return nil
	})
	switch {
	case err != nil:
		return &Problem{Entry: e.Name, Offset: e.Header, Err: err}
	case e.Dir || signedByItself || !withBOM:
		return nil
	case !ok:
		return &Problem{Entry: e.Name, Offset: e.Offset, Err: fmt.Errorf("not listed in the BOM's files, so no signature covers it")}
	case got.String() != want.Digest || e.Size != want.Size:
		return &Problem{Entry: e.Name, Offset: e.Offset, Err: fmt.Errorf("content (%s, %d bytes) differs from what the BOM records (%s, %d bytes): %w", got, e.Size, want.Digest, want.Size, ErrDigestMismatch)}
	}
	return nil
}

// checkTrailer checks the bytes after the last entry: zero blocks only.
func checkTrailer(r *Reader) *Problem {
	var last int64
	if n := len(r.entries); n > 0 {
		last = r.entries[n-1].end()
	}
	if r.usize-last > maxTrailer {
		return &Problem{Entry: "(tar trailer)", Offset: last, Err: ustreamErr(last, nil, "%d bytes follow the last entry; a tar trailer is at most %d (data after the end of the tar archive is not allowed)", r.usize-last, maxTrailer)}
	}
	rr, err := r.openRange(last, r.usize-last)
	if err != nil {
		return &Problem{Entry: "(tar trailer)", Offset: last, Err: err}
	}
	defer rr.Close()
	s := newEntryScanner(rr, last)
	if _, _, err := s.next(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = ustreamErr(last, nil, "an entry follows the last entry the TOC lists")
		}
		return &Problem{Entry: "(tar trailer)", Offset: last, Err: err}
	}
	if err := s.trailer(); err != nil {
		return &Problem{Entry: "(tar trailer)", Offset: last, Err: err}
	}
	return nil
}

// checkExpansion refuses entries whose frames expand implausibly. Every
// entry starts a frame, so the frames of entry i are those from its header
// up to the next entry's header.
func checkExpansion(r *Reader, c *Check) map[string]bool {
	bombs := map[string]bool{}
	fi := 0
	for _, e := range r.entries {
		for fi < len(r.frames) && r.frames[fi].dOff < e.Header {
			fi++
		}
		var comp, span int64
		for j := fi; j < len(r.frames) && r.frames[j].dOff < e.end(); j++ {
			comp += r.frames[j].cSize
			span += r.frames[j].dSize
		}
		if span > maxExpansionFloor && span > maxExpansion*comp {
			c.add(&Problem{Entry: e.Name, Offset: e.Offset, Err: fmt.Errorf("%d stored bytes expand to %d (%d×, over the %d× limit): refusing a decompression bomb", comp, span, span/max(comp, 1), maxExpansion)})
			bombs[e.Name] = true
		}
	}
	return bombs
}

package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// Validate checks that the bundle at path conforms to bundle format v1. Tests
// of every package that writes bundles call it. Beyond Verify's checks it
// requires a seek table and TOC, decodes every frame on its own and checks
// its size and checksum, checks that a sequential decode of the frames and a
// plain streaming zstd decode of the whole file give the same tar stream,
// and that the TOC equals the entries that tar stream holds.
func Validate(path string) error {
	r, err := Open(path)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	defer r.Close()
	if err := validate(r); err != nil {
		return fmt.Errorf("validate %s: %w", path, err)
	}
	return nil
}

func validate(r *Reader) error {
	if !r.seekable {
		return fmt.Errorf("no usable seek table and TOC (%s): %w", r.why, ErrInvalidBundle)
	}
	last := r.frames[len(r.frames)-1]
	for i, f := range r.frames[:len(r.frames)-1] {
		if f.dSize == 0 {
			return formatErr(f.cOff, nil, "frame %d is empty; only the TOC frame may be", i)
		}
	}
	fs := &frameStream{r: r, fb: &frameBuf{}}
	h := sha256.New()
	entries, n, err := scanEntries(io.TeeReader(fs, h), checkBlobData)
	if err != nil {
		return err
	}
	if n != r.usize {
		return ustreamErr(n, nil, "tar stream is %d bytes, the seek table says %d", n, r.usize)
	}
	if err := sameEntries(entries, r.entries); err != nil {
		return err
	}
	if err := sameAsStream(r, h.Sum(nil), n); err != nil {
		return err
	}
	if last.dSize != 0 {
		return formatErr(last.cOff, nil, "the last frame is not the TOC")
	}
	return verify(context.Background(), r, VerifyOptions{}, false).err("conformance")
}

// checkBlobData hashes a blob entry's data against its name.
func checkBlobData(e Entry, data io.Reader) error {
	if !isBlobName(e.Name) {
		return nil
	}
	want := digest.NewDigestFromEncoded(digest.SHA256, path.Base(e.Name))
	h := sha256.New()
	n, err := io.Copy(h, data)
	if err != nil {
		return err
	}
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != want || n != e.Size {
		return &DigestError{Digest: want, Size: e.Size, Got: got, GotSize: n, Entry: e.Name, Offset: e.Offset}
	}
	return nil
}

func sameEntries(scanned, toc []Entry) error {
	for i := range max(len(scanned), len(toc)) {
		switch {
		case i >= len(toc):
			return ustreamErr(scanned[i].Header, nil, "entry %s is missing from the TOC", scanned[i].Name)
		case i >= len(scanned):
			return ustreamErr(toc[i].Header, nil, "TOC lists %s, which the tar stream lacks", toc[i].Name)
		case scanned[i] != toc[i]:
			return ustreamErr(toc[i].Header, nil, "TOC says %+v, tar stream has %+v", toc[i], scanned[i])
		}
	}
	return nil
}

// sameAsStream decodes the whole file as one zstd stream, as `zstd -d`
// does, and compares it with the frame-by-frame decode.
func sameAsStream(r *Reader, sum []byte, n int64) error {
	dec, err := zstd.NewReader(io.NewSectionReader(r.ra, 0, r.size), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer dec.Close()
	h := sha256.New()
	m, err := io.Copy(h, dec)
	if err != nil {
		return formatErr(0, err, "decode as one zstd stream")
	}
	if m != n || !bytes.Equal(h.Sum(nil), sum) {
		return formatErr(0, nil, "a streaming zstd decode gives %d bytes that differ from the %d-byte frame-by-frame decode", m, n)
	}
	return nil
}

// frameStream decodes every frame on its own, in order, and checks each
// against its seek table size and checksum.
type frameStream struct {
	r   *Reader
	fb  *frameBuf
	i   int
	cur []byte
}

func (s *frameStream) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.i >= len(s.r.frames) {
			return 0, io.EOF
		}
		f := s.r.frames[s.i]
		data, err := s.r.readFrame(s.i, s.fb)
		if err != nil {
			return 0, err
		}
		if f.hasSum && uint32(xxhash.Sum64(data)) != f.sum {
			return 0, formatErr(f.cOff, nil, "frame %d does not match its seek table checksum", s.i)
		}
		s.cur = data
		s.i++
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

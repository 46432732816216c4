package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// entryHooks let Push verify and report an entry while writeEntry streams it.
type entryHooks struct {
	hash      io.Writer           // receives the data bytes
	rawByType bool                // the media type says already compressed
	verify    func(n int64) error // runs before the last frame goes out
	progress  func(done int64)
}

var zeroBlocks [2 * blockSize]byte

// writeEntry writes one tar entry (header, size bytes of r, padding) as one
// or more frames. The last frame is held back until hk.verify passes, so a
// bad entry that fits in one frame writes nothing. Callers hold pushMu.
func (w *Writer) writeEntry(ctx context.Context, name string, size int64, r io.Reader, hk entryHooks) error {
	if w.pipe == nil {
		return w.err
	}
	hdr, err := w.header(name, size)
	if err != nil {
		return err
	}
	w.stateMu.Lock()
	w.entrySeq++
	seq, start := w.entrySeq, w.off
	w.stateMu.Unlock()

	c := w.pipe.get()
	c.buf, c.entry = append(w.chunkBuf(c), hdr...), seq
	raw, sent, first := hk.rawByType, false, true
	var done int64
	for {
		n := int(min(size-done, int64(max(0, w.opts.FrameSize-len(c.buf)))))
		if err := ctx.Err(); err != nil {
			return w.abortEntry(c, name, sent, err)
		}
		if err := w.pipe.failed(); err != nil {
			return w.abortEntry(c, name, true, err)
		}
		c.buf = slices.Grow(c.buf, n+blockSize)
		data := c.buf[len(c.buf) : len(c.buf)+n]
		if m, err := io.ReadFull(r, data); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("content ended after %d bytes, want %d: %w", done+int64(m), size, ErrDigestMismatch)
			}
			return w.abortEntry(c, name, sent, err)
		}
		c.buf = c.buf[:len(c.buf)+n]
		if hk.hash != nil {
			hk.hash.Write(data)
		}
		if first && n > 0 {
			raw = raw || sniffCompressed(data)
			first = false
		}
		done += int64(n)
		last := done == size
		if last {
			if err := checkEnd(r, size, done, hk); err != nil {
				return w.abortEntry(c, name, sent, err)
			}
			c.buf = append(c.buf, zeroBlocks[:roundBlock(size)-size]...)
		}
		c.raw = raw
		w.pipe.send(c)
		sent = true
		w.frames.Add(1)
		if hk.progress != nil {
			hk.progress(done)
		}
		if last {
			break
		}
		c = w.pipe.get()
		c.buf, c.entry = w.chunkBuf(c), seq
	}
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	w.entries = append(w.entries, Entry{
		Name: name, Dir: strings.HasSuffix(name, "/"),
		Header: start, Offset: start + int64(len(hdr)), Size: size,
	})
	w.names[name] = true
	w.off = start + int64(len(hdr)) + roundBlock(size)
	return nil
}

// chunkBuf returns c's buffer, empty, allocating it at its full size the
// first time so that it never grows.
func (w *Writer) chunkBuf(c *chunk) []byte {
	if need := w.opts.FrameSize + 2*blockSize + 64<<10; cap(c.buf) < need {
		return make([]byte, 0, need)
	}
	return c.buf[:0]
}

// checkEnd makes sure r has nothing after size bytes and runs hk.verify.
func checkEnd(r io.Reader, size, done int64, hk entryHooks) error {
	if r != nil {
		var one [1]byte
		m, err := io.ReadFull(r, one[:])
		if m > 0 {
			return fmt.Errorf("content is longer than %d bytes: %w", size, ErrDigestMismatch)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if hk.verify != nil {
		return hk.verify(done)
	}
	return nil
}

// abortEntry drops the unsent chunk. When earlier frames of the entry were
// already sent the output holds a partial entry, so the writer is failed.
func (w *Writer) abortEntry(c *chunk, name string, sent bool, err error) error {
	w.pipe.release(c)
	if sent {
		w.stateMu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("bundle writer failed: %s was partly written: %w", name, err)
		}
		w.stateMu.Unlock()
	}
	return err
}

// header returns the tar header blocks for name: deterministic, root-owned,
// mode 0644 (files), 0755 (directories ending in "/", and executables
// below ExecutablePrefix).
func (w *Writer) header(name string, size int64) ([]byte, error) {
	h := &tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: w.opts.ModTime, Typeflag: tar.TypeReg}
	switch {
	case strings.HasSuffix(name, "/"):
		h.Typeflag, h.Mode = tar.TypeDir, 0o755
	case IsExecutableName(name):
		h.Mode = 0o755
	}
	w.hdrBuf.Reset()
	if err := tar.NewWriter(&w.hdrBuf).WriteHeader(h); err != nil {
		return nil, fmt.Errorf("tar header for %s: %w", name, err)
	}
	return w.hdrBuf.Bytes(), nil
}

// compressedMediaType reports whether content of this media type is already
// compressed (OCI and Docker layer types, the Helm chart content type).
func compressedMediaType(mt string) bool {
	for _, s := range []string{"+gzip", ".gzip", "+zstd", ".zstd", "+xz", "+bzip2"} {
		if strings.HasSuffix(mt, s) {
			return true
		}
	}
	return false
}

// sniffCompressed reports whether data starts like gzip, zstd, xz or bzip2.
func sniffCompressed(data []byte) bool {
	for _, m := range [][]byte{
		{0x1f, 0x8b},
		{0x28, 0xb5, 0x2f, 0xfd},
		{0xfd, '7', 'z', 'X', 'Z', 0x00},
		[]byte("BZh"),
	} {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	return false
}

package bundle

import (
	"errors"
	"fmt"
)

// Close writes the tar trailer, the TOC frame and the seek table, and
// flushes. It does not close the underlying io.Writer. Close returns the
// writer's error if it failed earlier; the output is then not a valid bundle.
// Calling Close again returns ErrClosed.
func (w *Writer) Close() error {
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	w.stateMu.Lock()
	if w.closed {
		w.stateMu.Unlock()
		return ErrClosed
	}
	w.closed = true
	err, hasIndex := w.err, w.names[IndexName]
	w.stateMu.Unlock()
	if w.pipe == nil {
		return err
	}
	defer w.enc.Close()
	if err == nil && !hasIndex {
		err = errors.New("close bundle: no index.json was added")
	}
	if err == nil {
		c := w.pipe.get()
		w.stateMu.Lock()
		w.entrySeq++
		c.entry = w.entrySeq
		w.stateMu.Unlock()
		c.buf = append(c.buf, zeroBlocks[:]...)
		w.pipe.send(c)
		w.frames.Add(1)
	}
	frames, perr := w.pipe.finish()
	if err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	return w.writeIndexFrames(frames)
}

// writeIndexFrames writes the TOC frame and the seek table, which lists the
// TOC frame as its last, empty frame.
func (w *Writer) writeIndexFrames(frames []seekEntry) error {
	w.stateMu.Lock()
	t := toc{Format: tocFormat, Version: tocVersion, Size: w.off + 2*blockSize, Entries: w.entries}
	w.stateMu.Unlock()
	out, err := appendTOCFrame(nil, w.enc, t)
	if err != nil {
		return err
	}
	frames = append(frames, seekEntry{cSize: uint32(len(out)), dSize: 0, sum: emptySum})
	out = appendSeekTable(out, frames)
	if err := w.pipe.writeRaw(out); err != nil {
		return err
	}
	if err := w.pipe.out.Flush(); err != nil {
		return fmt.Errorf("flush bundle: %w", err)
	}
	w.stateMu.Lock()
	w.off = t.Size
	w.stateMu.Unlock()
	w.frames.Add(1)
	return nil
}

// abort stops the writer without finishing the bundle.
func (w *Writer) abort() {
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	w.stateMu.Lock()
	closed := w.closed
	w.closed = true
	w.stateMu.Unlock()
	if closed || w.pipe == nil {
		return
	}
	w.pipe.fail(ErrClosed)
	_, _ = w.pipe.finish()
	w.enc.Close()
}

package mirror

import (
	"io"
	"sync"
)

// bufferedPipe is an in-memory pipe with a fixed-size ring buffer: the writer
// runs ahead of the reader by at most cap(buf) bytes, then blocks. It lets a
// download proceed while the bundle writer is still busy with an earlier blob,
// without memory growing with blob size.
type bufferedPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	start  int // read position
	n      int // bytes buffered
	werr   error
	closed bool // reader gone
}

func newBufferedPipe(size int) *bufferedPipe {
	p := &bufferedPipe{buf: make([]byte, size)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Write copies b into the ring, blocking while it is full.
func (p *bufferedPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	written := 0
	for len(b) > 0 {
		for p.n == len(p.buf) && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			return written, io.ErrClosedPipe
		}
		end := (p.start + p.n) % len(p.buf)
		free := len(p.buf) - p.n
		chunk := len(p.buf) - end
		if chunk > free {
			chunk = free
		}
		c := copy(p.buf[end:end+chunk], b)
		p.n += c
		written += c
		b = b[c:]
		p.cond.Broadcast()
	}
	return written, nil
}

// CloseWithError ends the stream; readers see err (io.EOF when nil) after the
// buffered bytes.
func (p *bufferedPipe) CloseWithError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		err = io.EOF
	}
	if p.werr == nil {
		p.werr = err
	}
	p.cond.Broadcast()
}

// Read copies buffered bytes out, blocking while the ring is empty.
func (p *bufferedPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.n == 0 && p.werr == nil && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	if p.n == 0 {
		return 0, p.werr
	}
	chunk := len(p.buf) - p.start
	if chunk > p.n {
		chunk = p.n
	}
	c := copy(b, p.buf[p.start:p.start+chunk])
	p.start = (p.start + c) % len(p.buf)
	p.n -= c
	p.cond.Broadcast()
	return c, nil
}

// Close is the reader giving up: pending and future writes fail.
func (p *bufferedPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.cond.Broadcast()
	return nil
}

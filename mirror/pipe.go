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
	// release, if set, gets the ring back once the reader closed the pipe
	// and the writer has finished with it.
	release func([]byte)
	wdone   bool
}

// newBufferedPipe makes a pipe over buf; release (optional) receives buf
// back when both sides are done with it, so rings can be reused.
func newBufferedPipe(buf []byte, release func([]byte)) *bufferedPipe {
	p := &bufferedPipe{buf: buf, release: release}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// maybeRelease hands the ring back once reader and writer are both done.
// Called with p.mu held.
func (p *bufferedPipe) maybeRelease() {
	if p.closed && p.wdone && p.release != nil {
		p.release(p.buf)
		p.release, p.buf = nil, nil
	}
}

// Write copies b into the ring, blocking while it is full.
func (p *bufferedPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	written := 0
	for len(b) > 0 {
		dst, err := p.freeSpan()
		if err != nil {
			return written, err
		}
		c := copy(dst, b)
		p.n += c
		written += c
		b = b[c:]
		p.cond.Broadcast()
	}
	return written, nil
}

// freeSpan waits until the ring has room and returns the contiguous free
// region after the buffered bytes. Called with p.mu held.
func (p *bufferedPipe) freeSpan() ([]byte, error) {
	for p.n == len(p.buf) && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return nil, io.ErrClosedPipe
	}
	end := (p.start + p.n) % len(p.buf)
	return p.buf[end : end+min(len(p.buf)-end, len(p.buf)-p.n)], nil
}

// ReadFrom fills the ring straight from r (a network body), saving the
// intermediate buffer io.Copy would use. It returns at EOF or on error.
func (p *bufferedPipe) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		p.mu.Lock()
		dst, err := p.freeSpan()
		p.mu.Unlock()
		if err != nil {
			return total, err
		}
		// Only this writer touches the free region, so reading into it
		// without the lock is safe; the reader sees it after the update.
		n, err := r.Read(dst)
		if n > 0 {
			p.mu.Lock()
			p.n += n
			total += int64(n)
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
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
	p.wdone = true
	p.maybeRelease()
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
	p.maybeRelease()
	p.cond.Broadcast()
	return nil
}

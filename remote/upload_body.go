package remote

import (
	"errors"
	"io"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// bodies makes the request bodies of one UploadBlob call.
type bodies struct {
	desc     ocispec.Descriptor
	open     func(off int64) (io.ReadCloser, error)
	progress func(int64)
}

// body returns a request body of n bytes of the blob from off: read from
// seq when given (a chunk of a sequential pass), else from its own reader.
// A retry of the request reopens it at off.
func (b *bodies) body(off, n int64, seq *seqReader) (*uploadBody, error) {
	state := &bodyState{}
	var mk func(shared bool) (*uploadBody, error)
	mk = func(shared bool) (*uploadBody, error) {
		ub := &uploadBody{state: state, progress: b.progress}
		ub.reopen = func() (io.ReadCloser, error) {
			rb, err := mk(false)
			if err != nil {
				return nil, err
			}
			return rb, nil
		}
		if shared {
			ub.r = io.LimitReader(seq, n)
			return ub, nil
		}
		rc, err := b.open(off)
		if err != nil {
			return nil, err
		}
		ub.r, ub.c = rc, rc
		if off != 0 || n != b.desc.Size {
			ub.r = io.LimitReader(rc, n)
		}
		return ub, nil
	}
	return mk(seq != nil)
}

// bodyErr prefers the body's read error (the caller's source) over the
// request's.
func bodyErr(b *uploadBody, err error) error {
	if err == nil {
		return nil
	}
	if berr := b.state.get(); berr != nil && !errors.Is(berr, errBodyClosed) {
		return berr
	}
	return err
}

// errBodyClosed is what a request body returns after it was closed.
var errBodyClosed = errors.New("upload body closed")

// bodyState is shared by a request body and the copies a retry reopens: it
// remembers the first read error, which is the source's fault, not the
// network's.
type bodyState struct {
	mu  sync.Mutex
	err error
}

func (s *bodyState) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *bodyState) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// uploadBody is a request body read from the caller's source. Read and
// Close are serialised, so once Close returns the transport can no longer
// touch the reader (net/http may still be writing a body in the background
// after a response arrived). It reports bytes as they go out.
type uploadBody struct {
	mu       sync.Mutex
	r        io.Reader
	c        io.Closer // closed with the body; nil when not owned
	closed   bool
	state    *bodyState
	progress func(int64)
	// reopen returns a fresh body for a retry of the same request.
	reopen func() (io.ReadCloser, error)
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	n, err := b.r.Read(p)
	if n > 0 && b.progress != nil {
		b.progress(int64(n))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.state.set(err)
	}
	return n, err
}

// Close stops the body; the underlying reader is closed when it is owned.
func (b *uploadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.c != nil {
		return b.c.Close()
	}
	return nil
}

// seqReader reads a blob front to back for consecutive chunks, reopening
// only when a chunk does not start where the last one ended (after a retry).
type seqReader struct {
	open func(off int64) (io.ReadCloser, error)
	rc   io.ReadCloser
	pos  int64
}

func (s *seqReader) seek(off int64) error {
	if s.rc != nil && s.pos == off {
		return nil
	}
	s.close()
	rc, err := s.open(off)
	if err != nil {
		return err
	}
	s.rc, s.pos = rc, off
	return nil
}

func (s *seqReader) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	s.pos += int64(n)
	return n, err
}

func (s *seqReader) close() {
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
}

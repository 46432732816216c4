package mirror

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// chunk is bytes [off, off+len(buf)) of one blob, filled by a request.
type chunk struct {
	buf  []byte
	off  int64
	err  error
	done chan struct{}
}

func newChunk(buf []byte, off int64) *chunk {
	return &chunk{buf: buf, off: off, done: make(chan struct{})}
}

// finish marks the chunk filled (err nil) or failed.
func (c *chunk) finish(err error) {
	c.err = err
	close(c.done)
}

// chunkStream is the consumer's reader of one blob: its chunks in order.
// Each buffer goes back to the scheduler once read. With a cache it tees
// what it yields into the cache's copy of the blob.
type chunkStream struct {
	item    fetchItem
	chunks  chan *chunk // granted in order; closed after the last
	sched   *scheduler  // takes buffers back, hears when the reader starves
	partial *partial    // cached prefix and the copy being written; may be nil

	cur     *chunk
	pos     int   // read position in cur
	read    int64 // bytes yielded
	err     error
	closeMu sync.Once
}

func newChunkStream(it fetchItem, s *scheduler, buffers int) *chunkStream {
	st := &chunkStream{item: it, chunks: make(chan *chunk, buffers+1), sched: s}
	if it.cache != nil {
		st.partial = it.cache.openPartial(it.desc)
	}
	return st
}

// fail ends the stream with err after the chunks granted so far.
func (st *chunkStream) fail(err error) {
	c := newChunk(nil, -1)
	c.finish(err)
	st.chunks <- c
}

// Read yields the blob's bytes in order, waiting for each chunk to fill.
func (st *chunkStream) Read(p []byte) (int, error) {
	if st.err != nil {
		return 0, st.err
	}
	for st.cur == nil || st.pos == len(st.cur.buf) {
		if st.cur != nil {
			st.giveBack(st.cur)
			st.cur = nil
		}
		c, ok := <-st.chunks
		if !ok {
			if st.read != st.item.desc.Size {
				st.err = fmt.Errorf("%s (%s): got %d bytes, want %d: %w", st.item.label, st.item.desc.Digest, st.read, st.item.desc.Size, io.ErrUnexpectedEOF)
				return 0, st.err
			}
			st.err = io.EOF
			return 0, io.EOF
		}
		start := time.Now()
		<-c.done
		st.sched.consumed(time.Since(start))
		if c.err != nil {
			st.giveBack(c)
			st.err = c.err
			return 0, c.err
		}
		st.cur, st.pos = c, 0
	}
	n := copy(p, st.cur.buf[st.pos:])
	if st.partial != nil {
		st.partial.write(st.cur.buf[st.pos:st.pos+n], st.read)
	}
	st.pos += n
	st.read += int64(n)
	return n, nil
}

func (st *chunkStream) giveBack(c *chunk) {
	if c.buf != nil {
		st.sched.release(c.buf)
	}
}

// Close gives back every buffer (waiting for chunks still filling) and
// settles the cache copy: published when the whole blob was read and its
// digest is right, kept as a partial for the next run otherwise.
func (st *chunkStream) Close() error {
	st.closeMu.Do(func() {
		if st.partial != nil {
			st.partial.close(st.read == st.item.desc.Size)
		}
		if st.cur != nil {
			st.giveBack(st.cur)
			st.cur = nil
		}
		go func() {
			for c := range st.chunks {
				<-c.done
				st.giveBack(c)
			}
		}()
		if st.err == nil {
			st.err = io.ErrClosedPipe
		}
	})
	return nil
}

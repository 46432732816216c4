package bundle

import (
	"bufio"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// chunk is the uncompressed content of one frame on its way to the output.
type chunk struct {
	buf   []byte
	raw   bool   // store in raw blocks, do not try to compress
	entry uint64 // entry sequence number, for the incompressible-data shortcut
}

// pipeline encodes chunks into zstd frames and writes them on its own
// goroutine, so that reading and hashing the next chunk overlaps with
// encoding and writing this one. Memory is the fixed set of chunk buffers
// plus one output buffer.
type pipeline struct {
	out  *bufio.Writer
	enc  *zstd.Encoder
	work chan *chunk
	free chan *chunk
	done chan struct{}

	mu  sync.Mutex
	err error

	// Owned by the goroutine until done is closed.
	frames    []seekEntry
	buf       []byte
	skipEntry uint64 // entry whose last frame did not compress
	skipLeft  int    // frames of skipEntry to store raw without trying

	bytesOut  atomic.Int64
	rawFrames atomic.Int64
}

const (
	pipelineBuffers = 3
	outBufferSize   = 256 << 10
	skipAfterMiss   = 7 // raw frames before probing compression again
)

func newPipeline(w io.Writer, enc *zstd.Encoder) *pipeline {
	p := &pipeline{
		out:  bufio.NewWriterSize(w, outBufferSize),
		enc:  enc,
		work: make(chan *chunk, pipelineBuffers),
		free: make(chan *chunk, pipelineBuffers),
		done: make(chan struct{}),
	}
	for range pipelineBuffers {
		p.free <- &chunk{}
	}
	go p.run()
	return p
}

// get returns a free chunk, waiting for the goroutine to release one.
func (p *pipeline) get() *chunk {
	c := <-p.free
	c.buf = c.buf[:0]
	c.raw = false
	return c
}

// send queues c for encoding; c belongs to the pipeline afterwards.
func (p *pipeline) send(c *chunk) { p.work <- c }

// release returns an unsent chunk.
func (p *pipeline) release(c *chunk) { p.free <- c }

func (p *pipeline) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *pipeline) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *pipeline) run() {
	defer close(p.done)
	for c := range p.work {
		if p.failed() == nil {
			if err := p.encode(c); err != nil {
				p.fail(err)
			}
		}
		p.free <- c
	}
}

// encode writes c as one frame: compressed when that saves at least 2%,
// raw blocks otherwise.
func (p *pipeline) encode(c *chunk) error {
	src := c.buf
	sum := xxhash.Sum64(src)
	rawSize := rawFrameSize(len(src))
	raw := c.raw
	if !raw && c.entry == p.skipEntry && p.skipLeft > 0 {
		p.skipLeft--
		raw = true
	}
	var frame []byte
	if !raw {
		frame = p.enc.EncodeAll(src, p.buf[:0])
		p.buf = frame[:0]
		if len(frame) >= rawSize*98/100 {
			raw = true
			p.skipEntry, p.skipLeft = c.entry, skipAfterMiss
		}
	}
	if raw {
		frame = appendRawFrame(p.buf[:0], src, sum)
		p.buf = frame[:0]
		p.rawFrames.Add(1)
	}
	if _, err := p.out.Write(frame); err != nil {
		return fmt.Errorf("write bundle frame: %w", err)
	}
	p.frames = append(p.frames, seekEntry{cSize: uint32(len(frame)), dSize: uint32(len(src)), sum: uint32(sum)})
	p.bytesOut.Add(int64(len(frame)))
	return nil
}

// finish waits for every queued chunk to be written and returns the frames.
func (p *pipeline) finish() ([]seekEntry, error) {
	close(p.work)
	<-p.done
	return p.frames, p.failed()
}

// writeRaw writes b after finish, counting it.
func (p *pipeline) writeRaw(b []byte) error {
	if _, err := p.out.Write(b); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	p.bytesOut.Add(int64(len(b)))
	return nil
}

package mirror

import (
	"context"
	"io"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// opener opens a blob's bytes from its source. The reader may implement
// io.Seeker; then a broken download is resumed from where it stopped.
type opener func(ctx context.Context) (io.ReadCloser, error)

// rangeOpener opens bytes [off, off+n) of a blob with one request; it
// fails with an error matching remote.ErrNoRanges when the source does not
// serve ranges.
type rangeOpener func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// fetchItem is one blob to stream, in the order it must be consumed.
type fetchItem struct {
	desc ocispec.Descriptor
	open opener
	// openRange, when set, fetches byte ranges; rangeKey names the server
	// (whether it serves ranges is asked once per key).
	openRange rangeOpener
	rangeKey  string
	// label names the blob for errors (a reference or URL).
	label string
	// cache, when set, gets a copy of the blob as it is consumed, and
	// supplies the part an interrupted run already saved.
	cache *BlobCache
}

// prefetched is one item's stream, ready for the consumer.
type prefetched struct {
	item fetchItem
	r    io.ReadCloser
}

// prefetchOptions bounds the pipeline.
type prefetchOptions struct {
	// Conns is how many requests run at once, over all blobs.
	Conns int
	// Chunk is the size of a buffer and of a range request.
	Chunk int
	// Buffers is how many chunk buffers may exist: memory is at most
	// Buffers × Chunk whatever the blob sizes. MinBuffers are allocated
	// as needed; more only while the consumer waits for data (a slow or
	// distant source), so a fast source costs little memory.
	Buffers    int
	MinBuffers int
	// RangeMin is the smallest blob fetched as parallel ranges (when its
	// server serves ranges); smaller ones are one request.
	RangeMin int64
	// Retries is how often a broken request is resumed.
	Retries int
	// Backoff is the first pause before a retry; it doubles.
	Backoff time.Duration
}

func (o *prefetchOptions) defaults() {
	if o.Conns <= 0 {
		o.Conns = 8
	}
	if o.Chunk <= 0 {
		o.Chunk = 2 << 20
	}
	if o.Buffers < o.Conns+4 {
		o.Buffers = o.Conns + 4
	}
	if o.MinBuffers <= 0 || o.MinBuffers > o.Buffers {
		o.MinBuffers = min(6, o.Buffers)
	}
	if o.RangeMin <= 0 {
		o.RangeMin = 2 * int64(o.Chunk)
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
}

// prefetch downloads items and delivers one stream per item, in order.
//
// Every blob is cut into chunks of opts.Chunk bytes. A scheduler hands out
// chunk buffers strictly in order (blob by blob, chunk by chunk), so the
// consumer can always make progress, and at most opts.Conns requests run at
// once. A blob is one request read chunk after chunk (resumed with a seek
// after a break). When the link sets the pace — the consumer spends most
// of its time waiting for data (see pace) — a large blob whose server
// serves ranges is fetched as parallel range requests instead (one per
// chunk, each resumed from the byte it reached), switching in the middle
// of a blob if need be; on a fast link one request per blob is cheaper. Buffers are reused once
// the consumer has read them, so memory is opts.Buffers × opts.Chunk
// whatever the blob sizes, and downloads run ahead of a slow consumer by at
// most that much. The bundle writer verifies each blob's digest over the
// whole blob. The consumer must read each stream to the end or close it,
// and must drain the channel or cancel ctx.
func prefetch(ctx context.Context, items []fetchItem, opts prefetchOptions) <-chan prefetched {
	opts.defaults()
	s := &scheduler{
		opts:  opts,
		conns: make(chan struct{}, opts.Conns),
		free:  make(chan []byte, opts.Buffers),
		grow:  make(chan struct{}, 1),
	}
	out := make(chan prefetched, len(items))
	go func() {
		defer close(out)
		for _, it := range items {
			st := newChunkStream(it, s, opts.Buffers)
			out <- prefetched{item: it, r: st}
			s.schedule(ctx, it, st)
			close(st.chunks)
			if ctx.Err() != nil {
				return
			}
		}
	}()
	return out
}

// scheduler hands out buffers and connections in order.
type scheduler struct {
	opts      prefetchOptions
	conns     chan struct{} // a slot per running request
	free      chan []byte   // buffers the consumer gave back
	grow      chan struct{} // the link sets the pace: one more buffer may help
	allocated int           // buffers made so far
	ranges    sync.Map      // rangeKey -> bool: serves byte ranges
	pace      pace
}

// buffer returns a chunk buffer: a free one; a new one while fewer than
// MinBuffers exist, or when the link sets the pace (see pace) and fewer
// than Buffers exist; else it waits for the consumer to give one back.
func (s *scheduler) buffer(ctx context.Context) ([]byte, error) {
	select {
	case b := <-s.free:
		return b, nil
	default:
	}
	if s.allocated < s.opts.MinBuffers {
		s.allocated++
		return make([]byte, s.opts.Chunk), nil
	}
	grow := s.grow
	if s.allocated >= s.opts.Buffers {
		grow = nil // a nil channel never receives: wait for a free one
	}
	select {
	case b := <-s.free:
		return b, nil
	case <-grow:
		s.allocated++
		return make([]byte, s.opts.Chunk), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *scheduler) release(b []byte) { s.free <- b[:cap(b)] }

func (s *scheduler) conn(ctx context.Context) error {
	select {
	case s.conns <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *scheduler) done() { <-s.conns }

// schedule grants every chunk of one item and starts the requests that fill
// them. It returns once the last chunk is granted (or ctx ends; then the
// stream's next chunk carries the error).
func (s *scheduler) schedule(ctx context.Context, it fetchItem, st *chunkStream) {
	size := it.desc.Size
	var next int64
	if st.partial != nil {
		next = s.fromPartial(ctx, st)
	}
	if next >= size {
		return
	}
	// With one request at a time ranges cannot run in parallel (and the
	// range probe would wait for the slot the blob's own request holds).
	rangeable := it.openRange != nil && size-next >= s.opts.RangeMin && s.opts.Conns > 1
	if rangeable && s.pace.linkBound() && s.servesRanges(ctx, it) {
		s.ranged(ctx, it, st, next)
		return
	}
	if next = s.sequential(ctx, it, st, next, rangeable); next < size {
		s.ranged(ctx, it, st, next)
	}
}

// fromPartial grants the chunks an interrupted run saved in the cache,
// filled from that file, and returns where the download goes on.
func (s *scheduler) fromPartial(ctx context.Context, st *chunkStream) int64 {
	var off int64
	for off < st.partial.have {
		c, ok := s.grant(ctx, st, off, st.partial.have)
		if !ok {
			return st.item.desc.Size
		}
		_, err := st.partial.f.ReadAt(c.buf, off)
		c.finish(err)
		off += int64(len(c.buf))
	}
	return off
}

// grant takes a buffer for bytes [off, min(off+Chunk, end)) of st's blob
// and queues the chunk on st, in order. When ctx ends first it fails the
// stream and reports false.
func (s *scheduler) grant(ctx context.Context, st *chunkStream, off, end int64) (*chunk, bool) {
	buf, err := s.buffer(ctx)
	if err != nil {
		st.fail(err)
		return nil, false
	}
	c := newChunk(buf[:min(int64(len(buf)), end-off)], off)
	st.chunks <- c
	return c, true
}

// ranged grants the chunks from off on, each filled by its own request.
func (s *scheduler) ranged(ctx context.Context, it fetchItem, st *chunkStream, off int64) {
	for ; off < it.desc.Size; off += int64(s.opts.Chunk) {
		c, ok := s.grant(ctx, st, off, it.desc.Size)
		if !ok {
			return
		}
		if err := s.conn(ctx); err != nil {
			c.finish(err)
			return
		}
		go func() {
			defer s.done()
			c.finish(s.fetchRange(ctx, it, c))
		}()
	}
}

// sequential grants the chunks from off on to one request that reads the
// blob from its start (or from off, when the source can seek). When
// switchable and the link turns out to set the pace, it stops granting and
// returns the offset where parallel range requests take over; else it
// returns the blob's size.
func (s *scheduler) sequential(ctx context.Context, it fetchItem, st *chunkStream, off int64, switchable bool) int64 {
	if err := s.conn(ctx); err != nil {
		st.fail(err)
		return it.desc.Size
	}
	start := off
	grants := make(chan *chunk, s.opts.Buffers)
	go func() {
		defer s.done()
		s.readSequential(ctx, it, off, grants)
	}()
	defer close(grants)
	for ; off < it.desc.Size; off += int64(s.opts.Chunk) {
		if switchable && off > start && s.pace.linkBound() && s.servesRanges(ctx, it) {
			return off
		}
		c, ok := s.grant(ctx, st, off, it.desc.Size)
		if !ok {
			return it.desc.Size
		}
		grants <- c
	}
	return off
}

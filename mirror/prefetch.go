package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/remote"
)

// opener opens a blob's bytes from its source. The reader may implement
// io.Seeker; then a broken download is resumed from where it stopped.
type opener func(ctx context.Context) (io.ReadCloser, error)

// fetchItem is one blob to stream, in the order it must be consumed.
type fetchItem struct {
	desc ocispec.Descriptor
	open opener
	// label names the blob for errors (a reference or URL).
	label string
	// cache, when set, gets a copy of the blob as it downloads.
	cache *BlobCache
}

// prefetched is one item's stream, ready for the consumer.
type prefetched struct {
	item fetchItem
	r    io.ReadCloser
}

// prefetchOptions bounds the pipeline.
type prefetchOptions struct {
	// Ahead is how many downloads run at once (the consumer's blob included).
	Ahead int
	// Buffer is the per-download ring size.
	Buffer int
	// Retries is how often a broken download is resumed.
	Retries int
	// Backoff is the first pause before a retry; it doubles.
	Backoff time.Duration
	// Done, when set, is told how many bytes each blob moved.
	Done func(desc ocispec.Descriptor, n int64)
}

// prefetch starts downloading items in order, at most Ahead at a time, each
// into a bounded ring buffer, and delivers their streams in order. Memory is
// bounded by Ahead × Buffer whatever the blob sizes. The consumer must read
// each stream to the end or close it before the next arrives, and must drain
// the channel or cancel ctx.
func prefetch(ctx context.Context, items []fetchItem, opts prefetchOptions) <-chan prefetched {
	out := make(chan prefetched, opts.Ahead)
	// The rings double as the concurrency limit: a download starts when a
	// ring is free, and a ring is free again only when the consumer has
	// closed the stream using it. Allocated once, whatever the item count.
	rings := make(chan []byte, opts.Ahead)
	for i := 0; i < opts.Ahead; i++ {
		rings <- make([]byte, opts.Buffer)
	}
	release := func(b []byte) { rings <- b }
	go func() {
		defer close(out)
		for _, it := range items {
			var ring []byte
			select {
			case ring = <-rings:
			case <-ctx.Done():
				return
			}
			p := newBufferedPipe(ring, release)
			go func(it fetchItem) {
				p.CloseWithError(download(ctx, it, p, opts))
			}(it)
			select {
			case out <- prefetched{item: it, r: p}:
			case <-ctx.Done():
				p.Close()
				return
			}
		}
	}()
	return out
}

// download copies one item into w, resuming after transient read errors when
// the source can seek. It returns nil at a complete copy.
func download(ctx context.Context, it fetchItem, w io.Writer, opts prefetchOptions) (err error) {
	if it.cache != nil {
		if s := it.cache.newSaver(it.desc); s != nil {
			defer func() { s.finish(err == nil) }()
			w = io.MultiWriter(w, s)
		}
	}
	var written int64
	backoff := opts.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	for attempt := 0; ; attempt++ {
		err := copyOnce(ctx, it, w, &written)
		if err == nil {
			if opts.Done != nil {
				opts.Done(it.desc, written)
			}
			return nil
		}
		if errors.Is(err, io.ErrClosedPipe) || ctx.Err() != nil || attempt >= opts.Retries || !retryable(err) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s (%s) at byte %d of %d: %w", it.label, it.desc.Digest, written, it.desc.Size, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff *= 2
	}
}

// errNoResume marks a source that cannot continue a partial download.
var errNoResume = errors.New("source cannot resume a partial download")

func copyOnce(ctx context.Context, it fetchItem, w io.Writer, written *int64) error {
	rc, err := it.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if *written > 0 {
		s, ok := rc.(io.Seeker)
		if !ok {
			return errNoResume
		}
		if _, err := s.Seek(*written, io.SeekStart); err != nil {
			return err
		}
	}
	n, err := io.Copy(w, rc)
	*written += n
	if err != nil {
		return err
	}
	if *written != it.desc.Size {
		return fmt.Errorf("got %d bytes, want %d: %w", *written, it.desc.Size, io.ErrUnexpectedEOF)
	}
	return nil
}

// retryable reports whether an error is worth another attempt: network
// failures and truncations and answers that say "later" (remote.ErrTemporary),
// not other answers or a closed consumer.
func retryable(err error) bool {
	if errors.Is(err, errNoResume) || errors.Is(err, context.Canceled) {
		return false
	}
	var re *remote.ResponseError
	if errors.As(err, &re) {
		return errors.Is(err, remote.ErrTemporary)
	}
	return true
}

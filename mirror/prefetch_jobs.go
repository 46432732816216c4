package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lattice-mesh/meshpack/remote"
)

// servesRanges asks once per server (fetchItem.rangeKey), with a one-byte
// range request for it's blob, whether it serves byte ranges. A failed
// probe answers no for this blob only: the one-request path reports real
// errors with retries.
func (s *scheduler) servesRanges(ctx context.Context, it fetchItem) bool {
	if v, ok := s.ranges.Load(it.rangeKey); ok {
		return v.(bool)
	}
	if err := s.conn(ctx); err != nil {
		return false
	}
	defer s.done()
	rc, err := it.openRange(ctx, 0, 1)
	if err != nil {
		if errors.Is(err, remote.ErrNoRanges) {
			s.ranges.Store(it.rangeKey, false)
		}
		return false
	}
	var b [1]byte
	_, err = io.ReadFull(rc, b[:])
	rc.Close()
	if err != nil {
		return false
	}
	s.ranges.Store(it.rangeKey, true)
	return true
}

// fetchRange fills chunk c with one range request, resuming from the byte
// it reached after a reset or a cut, up to Retries times.
func (s *scheduler) fetchRange(ctx context.Context, it fetchItem, c *chunk) error {
	var got int
	return s.retry(ctx, it, c.off, func() (int64, error) {
		rc, err := it.openRange(ctx, c.off+int64(got), int64(len(c.buf)-got))
		if err != nil {
			return c.off + int64(got), err
		}
		defer rc.Close()
		n, err := io.ReadFull(rc, c.buf[got:])
		got += n
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return c.off + int64(got), err
	})
}

// readSequential fills the granted chunks, in order, from one stream of the
// blob starting at off. After a break it opens the blob again and seeks to
// where it stopped; a source that cannot seek fails the rest.
func (s *scheduler) readSequential(ctx context.Context, it fetchItem, off int64, grants <-chan *chunk) {
	var rc io.ReadCloser
	defer func() {
		if rc != nil {
			rc.Close()
		}
	}()
	pos := off // the next byte rc yields
	for c := range grants {
		var got int
		err := s.retry(ctx, it, c.off, func() (int64, error) {
			if rc == nil {
				r, err := openAt(ctx, it, c.off+int64(got))
				if err != nil {
					return c.off + int64(got), err
				}
				rc, pos = r, c.off+int64(got)
			}
			n, err := io.ReadFull(rc, c.buf[got:])
			got += n
			pos += int64(n)
			if err != nil {
				rc.Close()
				rc = nil
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
			}
			return pos, err
		})
		c.finish(err)
		if err != nil {
			for c := range grants {
				c.finish(err)
			}
			return
		}
	}
	if rc != nil && pos == it.desc.Size {
		// Read to EOF so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1))
	}
}

// openAt opens the blob at off: from the start; from off with one range
// request to the end where the source serves ranges, else by a seek.
func openAt(ctx context.Context, it fetchItem, off int64) (io.ReadCloser, error) {
	if off > 0 && it.openRange != nil {
		rc, err := it.openRange(ctx, off, it.desc.Size-off)
		if !errors.Is(err, remote.ErrNoRanges) {
			return rc, err
		}
	}
	rc, err := it.open(ctx)
	if err != nil || off == 0 {
		return rc, err
	}
	if sk, ok := rc.(io.Seeker); ok {
		if _, err := sk.Seek(off, io.SeekStart); err != nil {
			rc.Close()
			return nil, err
		}
		return rc, nil
	}
	// No seek: read up to off and drop it (correct, only slower).
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		rc.Close()
		return nil, err
	}
	return rc, nil
}

// retry runs attempt until it succeeds, the error is not worth another try,
// or Retries attempts in a row made too little progress; attempt returns
// the blob offset it reached (for progress and the error message). An
// attempt that moved at least a quarter chunk (1 MiB) forward starts the
// count and the backoff again, so a link that resets every few hundred MiB
// still completes a large blob (resuming at once, without a pause), while
// one that cuts every answer short soon fails.
func (s *scheduler) retry(ctx context.Context, it fetchItem, from int64, attempt func() (int64, error)) error {
	backoff := s.opts.Backoff
	last := from
	for try := 0; ; try++ {
		at, err := attempt()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		progressed := at-last >= int64(s.opts.Chunk/4)
		if progressed {
			try, backoff = 0, s.opts.Backoff
		}
		last = max(last, at)
		if try >= s.opts.Retries || !retryable(err) {
			return fmt.Errorf("%s (%s) at byte %d of %d: %w", it.label, it.desc.Digest, at, it.desc.Size, err)
		}
		if progressed {
			continue // a break after real progress: resume at once
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff *= 2
	}
}

// retryable reports whether an error is worth another attempt: network
// failures and truncations and answers that say "later" (remote.ErrTemporary),
// not other answers, a missing range support or a cancel.
func retryable(err error) bool {
	if errors.Is(err, remote.ErrNoRanges) || errors.Is(err, context.Canceled) {
		return false
	}
	var re *remote.ResponseError
	if errors.As(err, &re) {
		return errors.Is(err, remote.ErrTemporary)
	}
	return true
}

package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// loadBlob makes one blob present in every repository that needs it: HEAD
// each, mount from one that has it, upload where that fails.
func (l *loader) loadBlob(ctx context.Context, b *blobTask) error {
	present := make([]bool, len(b.repos))
	src := ""
	for i, path := range b.repos {
		ok, err := l.blobExists(ctx, b, path)
		if err != nil {
			return l.blobErr(ctx, b, path, "check whether the registry has it", err)
		}
		if present[i] = ok; ok && src == "" {
			src = path
		}
	}
	uploaded := false
	for i, path := range b.repos {
		if present[i] {
			l.stats.blobsSkipped.Add(1)
			l.stats.bytesSkipped.Add(b.desc.Size)
			continue
		}
		rc, err := l.repoFor(path)
		if err != nil {
			return err
		}
		session := ""
		if src != "" {
			mounted, loc, err := rc.mount(ctx, b.desc, src)
			switch {
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				l.log.Debug("mount refused; uploading", "blob", b.desc.Digest, "repository", path, "from", src, "error", err)
			case mounted:
				l.stats.blobsMounted.Add(1)
				l.stats.bytesMounted.Add(b.desc.Size)
				continue
			default:
				session = loc
			}
		}
		if !b.inBundle {
			return l.blobErr(ctx, b, path, "", fmt.Errorf("not in this incremental bundle and not at the target; load the base bundle first"))
		}
		if err := l.upload(ctx, rc, b, session); err != nil {
			return l.blobErr(ctx, b, path, "upload", err)
		}
		uploaded, src = true, path
	}
	if !uploaded {
		emit(l.opts.Progress, Event{Kind: EventBlobSkipped, Name: b.label, Descriptor: b.desc, N: b.desc.Size})
	}
	emit(l.opts.Progress, Event{Kind: EventBlobDone, Name: b.label, Descriptor: b.desc})
	return nil
}

func (l *loader) blobErr(ctx context.Context, b *blobTask, repo, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if op != "" {
		op += ": "
	}
	return fmt.Errorf("blob %s (%d bytes, %s) into %s/%s: %s%w", b.desc.Digest, b.desc.Size, b.label, l.t.host, repo, op, hint(err))
}

// upload sends one blob into rc, continuing session (or the journal's
// session) when there is one, with retries.
func (l *loader) upload(ctx context.Context, rc *repoClient, b *blobTask, session string) error {
	d := b.desc
	loc, resume := session, false
	switch {
	case loc != "":
		l.journal.start(rc.path, d.Digest, loc)
	default:
		if loc = l.journal.lookup(rc.path, d.Digest); loc != "" {
			resume = true
			l.settle(ctx, rc, loc)
		}
	}
	var minChunk int64
	backoff := l.opts.Backoff
	var last error
	stalls := 0
	for attempt := 0; attempt <= l.opts.Retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 && last != nil {
			l.log.Debug("retrying upload", "blob", d.Digest, "repository", rc.path, "attempt", attempt, "error", last)
		}
		if loc == "" {
			var err error
			if loc, minChunk, err = rc.startUpload(ctx); err != nil {
				last = err
				switch classify(err, false) {
				case failRetry:
					l.sleep(ctx, &backoff)
				case failStalled:
					if stalls++; stalls > stallRetries {
						return stalledErr(stalls, err)
					}
				default:
					return err
				}
				continue
			}
			l.journal.start(rc.path, d.Digest, loc)
		}
		var off int64
		if resume {
			var done bool
			var err error
			if off, loc, done, err = l.resumeFrom(ctx, rc, b, loc); err != nil {
				last = err
				if classify(err, true) == failStalled {
					if stalls++; stalls > stallRetries {
						return stalledErr(stalls, err)
					}
					continue
				}
				l.sleep(ctx, &backoff)
				continue
			}
			if done {
				return nil
			}
			if loc == "" {
				resume = false
				continue
			}
		}
		next, err := l.send(ctx, rc, b, loc, off, minChunk, resume)
		if err == nil {
			l.journal.done(rc.path, d.Digest)
			l.stats.blobsPushed.Add(1)
			return nil
		}
		last, loc = err, next
		switch classify(err, l.chunked.Load()) {
		case failFatal:
			return err
		case failRestart:
			loc, resume = "", false
		case failChunks:
			if l.chunked.CompareAndSwap(false, true) {
				l.log.Warn("the registry refused a monolithic blob upload; switching to chunked uploads", "chunk", l.chunkSize.Load(), "error", err)
			}
			resume = true
		case failSmaller:
			l.chunkSize.Store(max(l.chunkSize.Load()/2, 256<<10))
			resume = true
		case failStalled:
			if stalls++; stalls > stallRetries {
				return stalledErr(stalls, err)
			}
			l.log.Warn("the registry stalled during an upload; trying again", "blob", d.Digest, "repository", rc.path, "error", err)
			resume = true
		default:
			resume = true
			l.sleep(ctx, &backoff)
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", l.opts.Retries+1, last)
}

func stalledErr(n int, err error) error {
	return fmt.Errorf("gave up after %d stalled attempts: %w", n, err)
}

// resumeFrom asks the registry how much of session loc it has. It returns
// the offset to continue from and the session URL to use; done when the
// blob turned out complete; an empty URL when the session is gone; an
// error worth a retry.
func (l *loader) resumeFrom(ctx context.Context, rc *repoClient, b *blobTask, loc string) (int64, string, bool, error) {
	d := b.desc
	n, next, err := rc.status(ctx, loc)
	if err != nil {
		if c := classify(err, true); c == failRetry || c == failStalled {
			return 0, loc, false, err
		}
		// The session is gone: completed after all (the request that was
		// cut finished on the registry's side), or forgotten.
		if ok, herr := rc.repo.Blobs().Exists(ctx, d); herr == nil && ok {
			l.journal.done(rc.path, d.Digest)
			l.stats.blobsPushed.Add(1)
			return 0, "", true, nil
		}
		l.log.Debug("upload session gone; starting again", "blob", d.Digest, "repository", rc.path, "error", err)
		return 0, "", false, nil
	}
	off := min(n, d.Size)
	l.log.Debug("continuing upload", "blob", d.Digest, "repository", rc.path, "offset", off, "size", d.Size)
	if off > 0 {
		l.stats.uploadsResumed.Add(1)
		l.stats.bytesResumed.Add(off)
		emit(l.opts.Progress, Event{Kind: EventBlobSkipped, Name: b.label, Descriptor: d, N: off})
	}
	return off, next, false, nil
}

func (l *loader) sleep(ctx context.Context, backoff *time.Duration) {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	*backoff = min(*backoff*2, 30*time.Second)
}

// settle waits until an upload session carried over from an earlier run
// stops growing: the registry may still be storing what the interrupted
// request sent, and continuing from a stale offset would be refused.
func (l *loader) settle(ctx context.Context, rc *repoClient, loc string) {
	prev := int64(-1)
	for range 10 {
		n, _, err := rc.status(ctx, loc)
		if err != nil || n == prev {
			return
		}
		prev = n
		d := 100 * time.Millisecond
		l.sleep(ctx, &d)
	}
}

// send uploads the blob from byte off into session loc: one PUT for a new
// session in monolithic mode, else PATCH requests with Content-Range (the
// registry refuses one that does not start where it is) and a closing PUT.
// It returns the session URL last used, for a resume.
func (l *loader) send(ctx context.Context, rc *repoClient, b *blobTask, loc string, off, minChunk int64, resumed bool) (string, error) {
	d := b.desc
	chunked := l.chunked.Load()
	if !chunked && !resumed {
		body, err := l.body(ctx, d, 0, d.Size, nil)
		if err != nil {
			return loc, err
		}
		err = rc.put(ctx, loc, d, d.Size, body)
		body.Close()
		return loc, bodyErr(body, err)
	}
	seq := &seqReader{l: l, desc: d}
	defer seq.close()
	for off < d.Size {
		n := d.Size - off
		if chunked {
			n = min(max(l.chunkSize.Load(), minChunk), n)
		}
		if err := seq.seek(ctx, off); err != nil {
			return loc, err
		}
		body, err := l.body(ctx, d, off, n, seq)
		if err != nil {
			return loc, err
		}
		next, err := rc.patch(ctx, loc, off, n, body)
		body.Close()
		if err = bodyErr(body, err); err != nil {
			return loc, err
		}
		loc, off = next, off+n
	}
	return loc, rc.put(ctx, loc, d, 0, nil)
}

// body returns a request body of n bytes of blob d from off: read from seq
// when given (a chunk of a sequential pass), else from its own reader (the
// whole blob, verified against its digest at the end). A retry reopens it.
func (l *loader) body(ctx context.Context, d ocispec.Descriptor, off, n int64, seq *seqReader) (*uploadBody, error) {
	state := &bodyState{}
	var mk func(shared bool) (*uploadBody, error)
	mk = func(shared bool) (*uploadBody, error) {
		ub := &uploadBody{
			state: state,
			count: func(k int64) { l.stats.bytesPushed.Add(k) },
			flush: func(k int64) { emit(l.opts.Progress, Event{Kind: EventBytes, Descriptor: d, N: k}) },
		}
		ub.reopen = func() (io.ReadCloser, error) { return mk(false) }
		if shared {
			ub.r = io.LimitReader(seq, n)
			return ub, nil
		}
		rc, err := l.open(ctx, d, off)
		if err != nil {
			return nil, err
		}
		ub.r, ub.c = rc, rc
		if off != 0 || n != d.Size {
			ub.r = io.LimitReader(rc, n)
		}
		return ub, nil
	}
	return mk(seq != nil)
}

// open returns blob d from the bundle, positioned at off. The bytes are not
// hashed again: Load verified every blob before the first push, and the
// registry checks the digest of what it receives.
func (l *loader) open(ctx context.Context, d ocispec.Descriptor, off int64) (io.ReadCloser, error) {
	rc, err := l.r.OpenBlob(ctx, d, off)
	if err != nil {
		return nil, fmt.Errorf("read from the bundle: %w", err)
	}
	return rc, nil
}

// seqReader reads a blob front to back for consecutive chunks, reopening
// only when a chunk does not start where the last one ended (after a retry).
type seqReader struct {
	l    *loader
	desc ocispec.Descriptor
	rc   io.ReadCloser
	pos  int64
}

func (s *seqReader) seek(ctx context.Context, off int64) error {
	if s.rc != nil && s.pos == off {
		return nil
	}
	s.close()
	rc, err := s.l.open(ctx, s.desc, off)
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

// bodyErr prefers the body's read error (the bundle) over the request's.
func bodyErr(b *uploadBody, err error) error {
	if err == nil {
		return nil
	}
	if berr := b.state.get(); berr != nil && !errors.Is(berr, errBodyClosed) {
		return fmt.Errorf("read from the bundle: %w", berr)
	}
	return err
}

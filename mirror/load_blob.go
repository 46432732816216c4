package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
)

// repoFor returns the cached client of a target repository path.
func (l *loader) repoFor(ctx context.Context, path string) (*remote.Repository, error) {
	l.reposMu.Lock()
	defer l.reposMu.Unlock()
	if rc := l.repos[path]; rc != nil {
		return rc, nil
	}
	rc, err := l.c.RepositoryAt(ctx, l.t.host, path)
	if err != nil {
		return nil, err
	}
	l.repos[path] = rc
	return rc, nil
}

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
		rc, err := l.repoFor(ctx, path)
		if err != nil {
			return err
		}
		var session remote.Upload
		if src != "" {
			mounted, s, err := rc.MountBlob(ctx, b.desc, src)
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
				session = s
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
		l.opts.Progress.Emit(progress.Event{Kind: progress.BlobSkipped, Name: b.label, Descriptor: b.desc, N: b.desc.Size})
	}
	l.opts.Progress.Emit(progress.Event{Kind: progress.BlobDone, Name: b.label, Descriptor: b.desc})
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

// blobExists asks (HEAD) whether repository path has blob b and remembers
// a yes: a manifest refused later for that blob proves the registry wrong.
func (l *loader) blobExists(ctx context.Context, b *blobTask, path string) (bool, error) {
	rc, err := l.repoFor(ctx, path)
	if err != nil {
		return false, err
	}
	ok, err := rc.BlobExists(ctx, b.desc)
	if ok {
		l.headSaid.Store(path+"@"+b.desc.Digest.String(), true)
	}
	return ok, err
}

// upload sends one blob into rc, continuing session (or the journal's
// session) when there is one. Each failed attempt is sorted by classify:
// transient failures back off and continue from what the registry has, a
// lost session starts again, a refused monolithic PUT switches the run to
// chunks, a refused chunk halves the chunk size, and a stall is tried once
// more.
func (l *loader) upload(ctx context.Context, rc *remote.Repository, b *blobTask, session remote.Upload) error {
	d, path := b.desc, rc.Path()
	s, resume := session, false
	switch {
	case s.URL != "":
		l.journal.start(path, d.Digest, s.URL)
	default:
		if s.URL = l.journal.lookup(path, d.Digest); s.URL != "" {
			resume = true
			l.settle(ctx, rc, s)
		}
	}
	sent, flush := l.progress(d)
	defer flush()
	open := func(off int64) (io.ReadCloser, error) { return l.open(ctx, d, off) }
	backoff := l.opts.Backoff
	var last error
	stalls := 0
	for attempt := 0; attempt <= l.opts.Retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 && last != nil {
			l.log.Debug("retrying upload", "blob", d.Digest, "repository", path, "attempt", attempt, "error", last)
		}
		if s.URL == "" {
			var err error
			if s, err = rc.StartUpload(ctx); err != nil {
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
			l.journal.start(path, d.Digest, s.URL)
		}
		chunk := int64(0)
		if l.chunked.Load() {
			chunk = l.chunkSize.Load()
		}
		res, err := rc.UploadBlob(ctx, d, open, remote.UploadOptions{Session: s, Resume: resume, ChunkSize: chunk, Progress: sent})
		if res.Resumed > 0 {
			l.log.Debug("continued upload", "blob", d.Digest, "repository", path, "offset", res.Resumed, "size", d.Size)
			l.stats.uploadsResumed.Add(1)
			l.stats.bytesResumed.Add(res.Resumed)
			l.opts.Progress.Emit(progress.Event{Kind: progress.BlobSkipped, Name: b.label, Descriptor: d, N: res.Resumed})
		}
		if err == nil {
			l.journal.done(path, d.Digest)
			l.stats.blobsPushed.Add(1)
			return nil
		}
		last, s = err, res.Session
		switch classify(err, chunk > 0) {
		case failFatal:
			return err
		case failRestart:
			s, resume = remote.Upload{}, false
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
			l.log.Warn("the registry stalled during an upload; trying again", "blob", d.Digest, "repository", path, "error", err)
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

// progress returns the Progress function of one blob's uploads: it counts
// every byte sent and reports them as progress.Bytes about every MiB;
// flush reports the rest.
func (l *loader) progress(d ocispec.Descriptor) (sent func(int64), flush func()) {
	var pending atomic.Int64
	report := func(n int64) {
		if n > 0 {
			l.opts.Progress.Emit(progress.Event{Kind: progress.Bytes, Descriptor: d, N: n})
		}
	}
	sent = func(n int64) {
		l.stats.bytesPushed.Add(n)
		if pending.Add(n) >= 1<<20 {
			report(pending.Swap(0))
		}
	}
	return sent, func() { report(pending.Swap(0)) }
}

func (l *loader) sleep(ctx context.Context, backoff *time.Duration) {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	*backoff = min(*backoff*2, remote.MaxBackoff)
}

// settle waits until an upload session carried over from an earlier run
// stops growing: the registry may still be storing what the interrupted
// request sent, and continuing from a stale offset would be refused.
func (l *loader) settle(ctx context.Context, rc *remote.Repository, s remote.Upload) {
	prev := int64(-1)
	for range 10 {
		n, _, err := rc.UploadStatus(ctx, s)
		if err != nil || n == prev {
			return
		}
		prev = n
		d := 100 * time.Millisecond
		l.sleep(ctx, &d)
	}
}

// open returns blob d from the bundle, positioned at off. The bytes are not
// hashed again: Load verified every blob before the first push, and the
// registry checks the digest of what it receives.
func (l *loader) open(ctx context.Context, d ocispec.Descriptor, off int64) (io.ReadCloser, error) {
	rc, err := l.r.OpenBlob(ctx, d, off)
	if err != nil {
		return nil, fmt.Errorf("read from the bundle: %w", err)
	}
	return bundleBlob{rc}, nil
}

// bundleBlob is a blob read from the bundle; its read errors say so, which
// tells them from the network's in an upload error.
type bundleBlob struct{ io.ReadCloser }

func (b bundleBlob) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("read from the bundle: %w", err)
	}
	return n, err
}

package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BlobCache is a content-addressed directory of blobs shared by creates
// (PullOptions.Cache): DIR/blobs/<algorithm>/<hex>. A blob enters only
// complete and with the right digest; one found there is hashed again
// before it is used (a damaged entry is deleted and downloaded anew). An
// interrupted create keeps every blob it finished, so a re-run downloads
// only what was in flight. The cache grows until PruneCache bounds it.
type BlobCache struct {
	Dir string
}

func (c *BlobCache) path(d digest.Digest) string {
	return filepath.Join(c.Dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// lookup returns an opener of a cached, verified copy of desc.
func (c *BlobCache) lookup(desc ocispec.Descriptor) (opener, bool) {
	if desc.Digest.Validate() != nil {
		return nil, false
	}
	p := c.path(desc.Digest)
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() != desc.Size {
		return nil, false
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	v := desc.Digest.Verifier()
	_, err = io.Copy(v, f)
	f.Close()
	if err != nil || !v.Verified() {
		_ = os.Remove(p) // damaged: download it again
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // recently used, for PruneCache
	return func(context.Context) (io.ReadCloser, error) { return os.Open(p) }, true
}

// partial is the cache's copy of one blob being consumed:
// DIR/partial/<algorithm>/<hex>, locked against other creates sharing the
// cache. It starts with the prefix an interrupted run saved (have bytes),
// which the next run reads instead of downloading; it is published into
// DIR/blobs only complete and with the right digest.
type partial struct {
	c      *BlobCache
	desc   ocispec.Descriptor
	f      *os.File
	have   int64     // bytes in the file when it was opened
	h      hash.Hash // over every byte yielded, from the first
	n      int64
	broken bool // a write failed: drop the copy
}

func (c *BlobCache) partialPath(d digest.Digest) string {
	return filepath.Join(c.Dir, "partial", d.Algorithm().String(), d.Encoded())
}

// openPartial opens (creating) the partial copy of desc; nil when the
// cache cannot take it or another create is writing it.
func (c *BlobCache) openPartial(desc ocispec.Descriptor) *partial {
	if desc.Digest.Validate() != nil || !desc.Digest.Algorithm().Available() {
		return nil
	}
	p := c.partialPath(desc.Digest)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil
	}
	if !lockFile(f) {
		f.Close()
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	have := st.Size()
	if have >= desc.Size { // stale or damaged: start again
		if f.Truncate(0) != nil {
			f.Close()
			return nil
		}
		have = 0
	}
	return &partial{c: c, desc: desc, f: f, have: have, h: desc.Digest.Algorithm().Hash()}
}

// write takes bytes [off, off+len(b)) as the consumer reads them: hashed
// always, written when beyond the saved prefix.
func (p *partial) write(b []byte, off int64) {
	p.h.Write(b)
	p.n += int64(len(b))
	if p.broken || off+int64(len(b)) <= p.have {
		return
	}
	skip := max(0, p.have-off)
	if _, err := p.f.WriteAt(b[skip:], off+skip); err != nil {
		p.broken = true
	}
}

// close publishes a complete, right copy, drops a complete wrong one, and
// keeps an incomplete one for the next run.
func (p *partial) close(complete bool) {
	defer p.f.Close()
	name := p.f.Name()
	if p.broken {
		_ = os.Remove(name)
		return
	}
	if !complete {
		return
	}
	if p.n == p.desc.Size && digest.NewDigest(p.desc.Digest.Algorithm(), p.h) == p.desc.Digest {
		dst := p.c.path(p.desc.Digest)
		if os.MkdirAll(filepath.Dir(dst), 0o755) == nil && os.Rename(name, dst) == nil {
			return
		}
	}
	_ = os.Remove(name)
}

// PruneResult is what PruneCache removed.
type PruneResult struct {
	BytesBefore int64 `json:"bytesBefore"`
	BytesAfter  int64 `json:"bytesAfter"`
	Removed     int   `json:"removed"`
}

// PruneCache deletes the least recently used blobs of the cache at dir
// until it holds at most maxBytes (0 empties it).
func PruneCache(dir string, maxBytes int64) (*PruneResult, error) {
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var all []entry
	res := &PruneResult{}
	var err error
	for _, sub := range []string{"blobs", "partial"} {
		if err != nil {
			break
		}
		err = filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			all = append(all, entry{p, info.Size(), info.ModTime()})
			res.BytesBefore += info.Size()
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("blob cache %s: %w", dir, err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.Before(all[j].used) })
	res.BytesAfter = res.BytesBefore
	for _, e := range all {
		if res.BytesAfter <= maxBytes {
			break
		}
		if err := os.Remove(e.path); err != nil {
			return res, fmt.Errorf("blob cache: %w", err)
		}
		res.BytesAfter -= e.size
		res.Removed++
	}
	return res, nil
}

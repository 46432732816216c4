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

	"github.com/lattice-mesh/meshpack/atomicfile"
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

// saver writes a downloaded blob into the cache alongside the bundle.
type saver struct {
	f    *atomicfile.File
	h    hash.Hash
	n    int64
	desc ocispec.Descriptor
}

// newSaver starts the cache copy of desc (nil when the cache cannot take it).
func (c *BlobCache) newSaver(desc ocispec.Descriptor) *saver {
	if desc.Digest.Validate() != nil || !desc.Digest.Algorithm().Available() {
		return nil
	}
	p := c.path(desc.Digest)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil
	}
	f, err := atomicfile.Create(p, 0o644)
	if err != nil {
		return nil
	}
	return &saver{f: f, h: desc.Digest.Algorithm().Hash(), desc: desc}
}

func (s *saver) Write(p []byte) (int, error) {
	// A cache that cannot write must not fail the bundle: stop saving.
	if s.f != nil {
		if _, err := s.f.Write(p); err != nil {
			_ = s.f.Abort()
			s.f = nil
		}
	}
	s.h.Write(p)
	s.n += int64(len(p))
	return len(p), nil
}

// finish publishes the copy when complete and right, else drops it.
func (s *saver) finish(ok bool) {
	if s.f == nil {
		return
	}
	if ok && s.n == s.desc.Size && digest.NewDigest(s.desc.Digest.Algorithm(), s.h) == s.desc.Digest {
		if s.f.Commit() == nil {
			return
		}
	}
	_ = s.f.Abort()
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
	root := filepath.Join(dir, "blobs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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

package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// GCResult is what a garbage collection found and freed.
type GCResult struct {
	// BytesBefore and BytesAfter are the size of the stored blobs.
	BytesBefore int64 `json:"bytesBefore"`
	BytesAfter  int64 `json:"bytesAfter"`
	DryRun      bool  `json:"dryRun,omitempty"`
}

// GarbageCollect runs CNCF Distribution's mark-and-sweep on the embedded
// registry's storage at root: every blob no manifest references any more
// (after bundle unload deleted manifests) is deleted. Manifests themselves
// are kept, tagged or not. Run it while the registry is stopped or
// read-only (registry serve without --allow-push): an upload during the
// sweep could lose a blob it just wrote. With dryRun nothing is deleted.
func GarbageCollect(ctx context.Context, root string, dryRun bool) (*GCResult, error) {
	st, err := os.Stat(filepath.Join(root, "docker", "registry", "v2"))
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s holds no registry storage (no docker/registry/v2): give the storage directory the registry serves from", root)
	}
	res := &GCResult{DryRun: dryRun}
	if res.BytesBefore, err = blobBytes(root); err != nil {
		return nil, err
	}
	drv := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
	ns, err := storage.NewRegistry(ctx, drv)
	if err != nil {
		return nil, fmt.Errorf("registry storage %s: %w", root, err)
	}
	if err := storage.MarkAndSweep(ctx, drv, ns, storage.GCOpts{DryRun: dryRun, Quiet: true}); err != nil {
		return nil, fmt.Errorf("garbage collection of %s: %w", root, err)
	}
	if res.BytesAfter, err = blobBytes(root); err != nil {
		return nil, err
	}
	return res, nil
}

// blobBytes sums the sizes of the stored blobs.
func blobBytes(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(filepath.Join(root, "docker", "registry", "v2", "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

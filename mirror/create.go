package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
)

// ErrNoSigner means neither a signer nor an explicit permission to write an
// unsigned bundle was given (PullOptions.Signer, AllowUnsigned).
var ErrNoSigner = errors.New("no signing key to sign the bundle, and unsigned bundles are not allowed")

// CreateOptions configures Create.
type CreateOptions struct {
	PullOptions
	// Bundle sets compression level, frame size and split size.
	Bundle bundle.CreateOptions
}

// CreateResult summarises a Create.
type CreateResult struct {
	PullResult
	// Path is the bundle written: the path given, or the first part
	// PATH.000 when split.
	Path string
	// Parts lists the files written (one unless split).
	Parts []string
	// Sums is the checksum listing of a split bundle (bundle.SumsName);
	// empty when not split.
	Sums string
	// Stats are the writer's counts: bytes in (uncompressed tar) and out.
	Stats bundle.Stats
	// Duration is the wall time of the whole create.
	Duration time.Duration
}

// Create pulls everything lock pins into a new bundle at path. The bundle
// appears under its final name only when complete; on any error or an
// interrupt nothing is left but the error (re-running starts cleanly).
func Create(ctx context.Context, lock *manifests.Lock, path string, opts CreateOptions) (*CreateResult, error) {
	start := time.Now()
	if opts.Created.IsZero() {
		opts.Created = start.UTC().Truncate(time.Second)
	}
	if opts.Bundle.ModTime.IsZero() {
		opts.Bundle.ModTime = opts.Created
	}
	f, err := bundle.Create(path, opts.Bundle)
	if err != nil {
		return nil, err
	}
	defer f.Abort() // no-op after Commit
	res, err := Pull(ctx, lock, f.Writer(), opts.PullOptions)
	if err != nil {
		return nil, err
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	out := &CreateResult{PullResult: *res, Stats: f.Writer().Stats(), Duration: time.Since(start)}
	out.Parts = f.Parts()
	if len(out.Parts) == 0 {
		return nil, fmt.Errorf("create %s: no file written", path)
	}
	out.Path = out.Parts[0]
	if opts.Bundle.SplitSize > 0 {
		out.Sums = bundle.SumsName(path)
	}
	return out, nil
}

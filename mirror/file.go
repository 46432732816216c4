package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/lattice-mesh/meshpack/bundle"
)

// FileOptions say how VerifyFile and LoadFile open a bundle file.
type FileOptions struct {
	// AllowRescan reads a bundle whose seek table or TOC is damaged or
	// missing (one re-compressed by plain zstd, say) by a slow sequential
	// scan. Without it such a bundle is refused with bundle.ErrNotSeekable.
	AllowRescan bool
	// Opened, when set, receives the bundle's statistics once it is open
	// and before it is verified or loaded, e.g. to size a progress display.
	Opened func(bundle.Stats)
}

// VerifyFileOptions configures VerifyFile.
type VerifyFileOptions struct {
	VerifyOptions
	FileOptions
}

// LoadFileOptions configures LoadFile.
type LoadFileOptions struct {
	LoadOptions
	FileOptions
}

// VerifyFile verifies the bundle file at path completely and offline. path
// is a single file, the first part NAME.000 of a split set, or its base
// NAME. A split set's parts are first checked against NAME.sha256 (the
// check bundle.CheckParts of the report); then everything Verify checks.
// A failed parts check does not stop the rest: the report lists every
// check, and the error names the first failure. Without Key or
// AllowUnsigned it refuses with ErrNoKey before reading anything.
func VerifyFile(ctx context.Context, path string, opts VerifyFileOptions) (*bundle.Report, error) {
	if opts.Key == nil && !opts.AllowUnsigned {
		return nil, ErrNoKey
	}
	parts, err := checkParts(ctx, path)
	if err != nil && (parts == nil || parts.OK()) {
		return nil, err // not a failed check: an interrupt, say
	}
	r, err := openFile(path, opts.FileOptions)
	if err != nil {
		return parts, err
	}
	defer r.Close()
	rep, err := Verify(ctx, r, opts.VerifyOptions)
	switch {
	case parts == nil:
	case rep == nil:
		rep = parts
	default:
		rep.Checks = append(parts.Checks, rep.Checks...)
	}
	if err == nil && parts != nil && !parts.OK() {
		err = fmt.Errorf("%w: %s", ErrVerify, parts.First().Error())
	}
	return rep, err
}

// LoadFile loads the bundle file at path (as VerifyFile names it) into the
// registry at target, as Load does. Unless SkipVerify is set, a split set's
// parts are first checked against NAME.sha256, and nothing is pushed when
// one is missing, altered or unlisted.
func LoadFile(ctx context.Context, path, target string, opts LoadFileOptions) (*LoadResult, error) {
	if opts.Key == nil && !opts.AllowUnsigned && !opts.SkipVerify {
		return nil, fmt.Errorf("load refused, nothing was pushed: %w", ErrNoKey)
	}
	if !opts.SkipVerify {
		rep, err := checkParts(ctx, path)
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if err == nil && rep != nil && !rep.OK() {
			err = fmt.Errorf("%w: %s", ErrVerify, rep.First().Error())
		}
		if err != nil {
			if !errors.Is(err, ErrVerify) {
				err = fmt.Errorf("%w: %w", ErrVerify, err)
			}
			return nil, fmt.Errorf("load refused, nothing was pushed: %w", err)
		}
	}
	r, err := openFile(path, opts.FileOptions)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return Load(ctx, r, target, opts.LoadOptions)
}

// checkParts checks a split set's parts against NAME.sha256; for a single
// file it returns nil, nil.
func checkParts(ctx context.Context, path string) (*bundle.Report, error) {
	if _, split := bundle.SplitBase(path); !split {
		return nil, nil
	}
	return bundle.VerifyParts(ctx, path, bundle.VerifyOptions{})
}

// openFile opens the bundle at path and reports its statistics.
func openFile(path string, opts FileOptions) (*bundle.Reader, error) {
	r, err := bundle.OpenWith(path, bundle.ReaderOptions{AllowRescan: opts.AllowRescan})
	if err != nil {
		return nil, err
	}
	if opts.Opened != nil {
		opts.Opened(r.Stats())
	}
	return r, nil
}

// OpenVerified opens the bundle file at path (as VerifyFile names it) and
// verifies it, a split set's parts against NAME.sha256 first, and returns
// the open reader for a caller that goes on to read what was verified
// (install plans from it). On any failure it returns no reader; the report
// says what was checked. The caller closes the reader.
func OpenVerified(ctx context.Context, path string, opts VerifyFileOptions) (*bundle.Reader, *bundle.Report, error) {
	if opts.Key == nil && !opts.AllowUnsigned {
		return nil, nil, ErrNoKey
	}
	parts, err := checkParts(ctx, path)
	if parts != nil && !parts.OK() {
		err = fmt.Errorf("%w: %s", ErrVerify, parts.First().Error())
	}
	if err != nil {
		return nil, parts, err
	}
	r, err := openFile(path, opts.FileOptions)
	if err != nil {
		return nil, parts, err
	}
	rep, err := Verify(ctx, r, opts.VerifyOptions)
	if parts != nil && rep != nil {
		rep.Checks = append(parts.Checks, rep.Checks...)
	}
	if err != nil {
		r.Close()
		return nil, rep, err
	}
	return r, rep, nil
}

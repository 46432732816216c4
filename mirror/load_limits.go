package mirror

import (
	"errors"
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/progress"
)

// DefaultMaxBlobSize is the per-blob cap of LoadOptions.MaxBlobSize when it
// is zero: larger than any real image layer, small enough that a crafted
// bundle cannot make Load push an endless stream of zeros.
const DefaultMaxBlobSize int64 = 64 << 30

// maxRepositoryLength is the longest repository path registries accept
// (distribution's NAME_INVALID limit).
const maxRepositoryLength = 255

// Preflight errors. Both are returned before anything is pushed.
var (
	// ErrTooLarge means a blob, or all blobs together, exceed the caps of
	// LoadOptions.MaxBlobSize or MaxTotalSize.
	ErrTooLarge = errors.New("over the size cap")
	// ErrInvalidName means the bundle names a repository or tag the OCI
	// distribution spec does not allow.
	ErrInvalidName = errors.New("invalid repository or tag names")
)

// The size caps a LimitError names (LimitError.Option).
const (
	LimitMaxBlobSize  = "LoadOptions.MaxBlobSize"
	LimitMaxTotalSize = "LoadOptions.MaxTotalSize"
)

// LimitError is a load refused before anything was pushed because a blob,
// or all blobs together, exceed a size cap. It matches ErrTooLarge.
type LimitError struct {
	// Option is the cap exceeded: LimitMaxBlobSize or LimitMaxTotalSize.
	Option string
	// Limit is that cap in bytes.
	Limit int64
	msg   string
}

// Error names what is too large, the cap and its option.
func (e *LimitError) Error() string { return e.msg }

// Unwrap returns ErrTooLarge.
func (e *LimitError) Unwrap() error { return ErrTooLarge }

// maxBlob is the effective per-blob cap; 0 means none.
func (l *loader) maxBlob() int64 {
	switch {
	case l.opts.MaxBlobSize == 0:
		return DefaultMaxBlobSize
	case l.opts.MaxBlobSize < 0:
		return 0
	}
	return l.opts.MaxBlobSize
}

// sizeCheck collects blobs over the caps.
type sizeCheck struct {
	max, maxTotal int64
	total         int64
	over          int
	first         string
	negative      string
}

func (c *sizeCheck) add(d string, size int64) {
	switch {
	case size < 0:
		if c.negative == "" {
			c.negative = fmt.Sprintf("blob %s has a negative size %d", d, size)
		}
	case c.max > 0 && size > c.max:
		c.over++
		if c.first == "" {
			c.first = fmt.Sprintf("blob %s is %d bytes (%s)", d, size, progress.HumanBytes(size))
		}
	}
	c.total += max(size, 0)
}

func (c *sizeCheck) err(what string) error {
	if c.negative != "" {
		return fmt.Errorf("load refused, nothing was pushed: %w: %s", bundle.ErrInvalidBundle, c.negative)
	}
	if c.over > 0 {
		n := ""
		if c.over > 1 {
			n = fmt.Sprintf(" (and %d more)", c.over-1)
		}
		return &LimitError{Option: LimitMaxBlobSize, Limit: c.max, msg: fmt.Sprintf(
			"load refused, nothing was pushed: %s%s: %v of %d bytes (%s) per blob (%s)",
			c.first, n, ErrTooLarge, c.max, progress.HumanBytes(c.max), LimitMaxBlobSize)}
	}
	if c.maxTotal > 0 && c.total > c.maxTotal {
		return &LimitError{Option: LimitMaxTotalSize, Limit: c.maxTotal, msg: fmt.Sprintf(
			"load refused, nothing was pushed: the %s total %d bytes (%s): %v of %d bytes (%s) in total (%s)",
			what, c.total, progress.HumanBytes(c.total), ErrTooLarge, c.maxTotal, progress.HumanBytes(c.maxTotal), LimitMaxTotalSize)}
	}
	return nil
}

// checkBOMSizes applies the caps to the BOM's blob list, which Verify
// later proves equal to the blobs the bundle holds.
func (l *loader) checkBOMSizes(bom *bundle.BOM) error {
	c := &sizeCheck{max: l.maxBlob(), maxTotal: max(l.opts.MaxTotalSize, 0)}
	for _, b := range bom.Blobs {
		c.add(b.Digest, b.Size)
	}
	return c.err("bundle's blobs")
}

// checkPlanSizes applies the caps to the sizes the manifests give for the
// blobs Load will upload.
func (l *loader) checkPlanSizes(p *loadPlan) error {
	c := &sizeCheck{max: l.maxBlob(), maxTotal: max(l.opts.MaxTotalSize, 0)}
	for _, b := range p.blobs {
		if b.inBundle {
			c.add(b.desc.Digest.String(), b.desc.Size)
		}
	}
	return c.err("blobs to upload")
}

// checkNames validates every target repository path and tag against the
// OCI distribution-spec grammar and lists all that fail.
func (l *loader) checkNames(bom *bundle.BOM) error {
	var bad []string
	seen := map[string]bool{}
	note := func(s string) {
		if !seen[s] {
			seen[s] = true
			bad = append(bad, s)
		}
	}
	for _, a := range bom.Artifacts {
		label := artifactLabel(a)
		if a.Repository == "" {
			note("no repository (" + label + ")")
			continue
		}
		path := l.t.repo(a.Repository)
		ref := registry.Reference{Registry: l.t.host, Repository: path, Reference: a.Tag}
		if ref.ValidateRepository() != nil || len(path) > maxRepositoryLength {
			note(fmt.Sprintf("repository %q (%s)", path, label))
		}
		if a.Tag != "" && ref.ValidateReferenceAsTag() != nil {
			note(fmt.Sprintf("tag %q (%s)", a.Tag, label))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	more := ""
	if len(bad) > 20 {
		more = fmt.Sprintf("; and %d more", len(bad)-20)
		bad = bad[:20]
	}
	return fmt.Errorf("load refused, nothing was pushed: %w in the bundle (%d): %s%s; a repository path is lowercase letters and digits separated by '.', '_', '__', '-' or '/' (at most %d characters), a tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
		ErrInvalidName, len(seen), strings.Join(bad, "; "), more, maxRepositoryLength)
}

package bundle

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Sentinel errors. Test for them with errors.Is; the typed errors below carry
// the digest, entry, offset or file that failed.
var (
	// ErrInvalidBundle means the file is not a well-formed bundle: bad zstd
	// framing, a broken tar stream, a missing or unparseable oci-layout or
	// index.json, or entries out of order.
	ErrInvalidBundle = errors.New("invalid bundle")
	// ErrDigestMismatch means content does not match its digest or size.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrNotFound means a blob, reference or entry is not in the bundle. It is
	// oras-go's errdef.ErrNotFound, so oras callers recognise it too.
	ErrNotFound = errdef.ErrNotFound
	// ErrMissingPart means a split part file is missing or shorter than it
	// should be.
	ErrMissingPart = errors.New("missing part")
	// ErrClosed means the writer or reader was already closed.
	ErrClosed = errors.New("bundle closed")
)

// DigestError reports content whose digest or size differs from what was
// expected. It matches ErrDigestMismatch and oras-go's
// content.ErrMismatchedDigest.
type DigestError struct {
	// Digest and Size are what was expected.
	Digest digest.Digest
	Size   int64
	// Got and GotSize are what was read; Got is empty when the size already
	// differed.
	Got     digest.Digest
	GotSize int64
	// Entry is the tar entry name and Offset the uncompressed offset of its
	// data, when the content came from a bundle; Offset is -1 otherwise.
	Entry  string
	Offset int64
}

// Error describes the mismatch, naming the digest and where it was read.
func (e *DigestError) Error() string {
	where := ""
	if e.Entry != "" {
		where = fmt.Sprintf(" (%s at offset %d)", e.Entry, e.Offset)
	}
	if e.GotSize != e.Size {
		return fmt.Sprintf("%s%s: size mismatch: got %d bytes, want %d", e.Digest, where, e.GotSize, e.Size)
	}
	return fmt.Sprintf("%s%s: digest mismatch: content hashes to %s", e.Digest, where, e.Got)
}

// Unwrap returns ErrDigestMismatch and content.ErrMismatchedDigest.
func (e *DigestError) Unwrap() []error {
	return []error{ErrDigestMismatch, content.ErrMismatchedDigest}
}

// FormatError reports a malformed bundle at a byte offset. Offset is in the
// compressed file unless Uncompressed is set. It matches ErrInvalidBundle.
type FormatError struct {
	Offset       int64
	Uncompressed bool
	Msg          string
	Err          error
}

// Error describes the defect and its offset.
func (e *FormatError) Error() string {
	kind := "offset"
	if e.Uncompressed {
		kind = "uncompressed offset"
	}
	s := fmt.Sprintf("invalid bundle at %s %d: %s", kind, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidBundle and the underlying cause, if any.
func (e *FormatError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidBundle, e.Err}
	}
	return []error{ErrInvalidBundle}
}

// PartError reports a problem with one split part file. It matches its Err,
// usually ErrMissingPart.
type PartError struct {
	File string
	Err  error
}

// Error names the part file and the problem.
func (e *PartError) Error() string { return e.File + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PartError) Unwrap() error { return e.Err }

func formatErr(off int64, err error, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}

func ustreamErr(off int64, err error, format string, args ...any) error {
	return &FormatError{Offset: off, Uncompressed: true, Msg: fmt.Sprintf(format, args...), Err: err}
}

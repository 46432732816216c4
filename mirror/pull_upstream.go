package mirror

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/signing"
)

// CheckUpstreamSkipped is the check Pull records in the BOM for an image
// whose upstream signature it did not look for (VerifyOff). Bundles written
// before it named the option hold the command-line spelling instead,
// "upstream-signature:skipped(" followed by the flag; the two mean the
// same. Nothing interprets checks: they are shown as recorded.
const CheckUpstreamSkipped = "upstream-signature:skipped(verify-upstream=off)"

// ErrNoUpstreamKey means the policy VerifyRequired needs the public key of
// an upstream signing key that PullOptions.UpstreamKeys does not hold.
var ErrNoUpstreamKey = errors.New("no public key for it is configured (PullOptions.UpstreamKeys)")

// UpstreamError is an image upstream signs whose signature the policy
// VerifyRequired (PullOptions.VerifyUpstream) could not check: the key is
// not in PullOptions.UpstreamKeys (Err is ErrNoUpstreamKey), or upstream
// published no signature for the image (Err matches
// signing.ErrNoSignature).
type UpstreamError struct {
	// Image is the image reference.
	Image string
	// Subject is the manifest whose signature was looked for; empty with
	// ErrNoUpstreamKey.
	Subject digest.Digest
	// Key is the catalog name of the key that signs the image.
	Key string
	// Err is ErrNoUpstreamKey or the error of the signature lookup.
	Err error
}

// Error names the image, the key and what is missing.
func (e *UpstreamError) Error() string {
	if errors.Is(e.Err, ErrNoUpstreamKey) {
		return fmt.Sprintf("image %s: upstream signs it with key %q, but %v", e.Image, e.Key, e.Err)
	}
	return fmt.Sprintf("image %s (%s): no upstream cosign signature (%s) although key %q is expected to sign it (PullOptions.VerifyUpstream %s): %v",
		e.Image, e.Subject, signing.SignatureTag(e.Subject), e.Key, VerifyRequired, e.Err)
}

// Unwrap returns Err.
func (e *UpstreamError) Unwrap() error { return e.Err }

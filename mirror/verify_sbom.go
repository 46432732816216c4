package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/sbom"
	"github.com/lattice-mesh/meshpack/signing"
)

// ErrNoSBOM means the bundle holds no meshpack/sbom.cdx.json: it was
// written by a meshpack that did not generate SBOMs yet.
var ErrNoSBOM = errors.New("the bundle holds no SBOM (meshpack/sbom.cdx.json); bundles created before meshpack wrote SBOMs have none: re-create it")

// SBOM returns the bundle's CycloneDX SBOM (meshpack/sbom.cdx.json) as
// stored and its signature (nil in an unsigned bundle). With key, it first
// checks that signature as `cosign verify-blob --key` would; this proves
// the SBOM alone, offline and fast, while Verify proves the whole bundle
// (the BOM lists the SBOM and its signature, so its signature covers both).
func SBOM(ctx context.Context, r *bundle.Reader, key signing.Verifier) (doc, sig []byte, err error) {
	doc, err = r.File(sbom.FileName)
	if errors.Is(err, bundle.ErrNotFound) {
		return nil, nil, ErrNoSBOM
	}
	if err != nil {
		return nil, nil, err
	}
	sig, err = r.File(sbom.SigFileName)
	if err != nil && !errors.Is(err, bundle.ErrNotFound) {
		return nil, nil, err
	}
	if key == nil {
		return doc, sig, nil
	}
	if err := verifySBOMSignature(ctx, key, doc, sig); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	return doc, sig, nil
}

// checkSBOMSignature verifies the SBOM's signature with key when the bundle
// has an SBOM, and reports whether it had one.
func checkSBOMSignature(ctx context.Context, r *bundle.Reader, key signing.Verifier) (bool, error) {
	doc, sig, err := SBOM(ctx, r, nil)
	if errors.Is(err, ErrNoSBOM) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	return true, verifySBOMSignature(ctx, key, doc, sig)
}

func verifySBOMSignature(ctx context.Context, key signing.Verifier, doc, sig []byte) error {
	if sig == nil {
		return fmt.Errorf("%s: missing; the bundle is unsigned, or the signature was removed", sbom.SigFileName)
	}
	if err := signing.VerifyBlob(ctx, key, doc, sig); err != nil {
		return fmt.Errorf("%s does not verify with this key (wrong key, or %s was changed): %w", sbom.SigFileName, sbom.FileName, err)
	}
	return nil
}

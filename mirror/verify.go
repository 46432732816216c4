package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/sbom"
	"github.com/lattice-mesh/meshpack/signing"
)

// CheckSignatures names the signature check in a verify Report.
const CheckSignatures = "signatures"

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Key verifies the BOM signature and every image signature.
	Key signing.Verifier
	// AllowUnsigned, with no Key, checks digests and structure only (the
	// report says signatures were not checked). Without Key or
	// AllowUnsigned, Verify refuses with ErrNoKey.
	AllowUnsigned bool
	// Concurrency of blob hashing; default 2.
	Concurrency int
	// Progress, when set, receives bundle.Verify's events: Bytes as blobs
	// are hashed and BlobVerified for each blob, never concurrently; it
	// must not block.
	Progress progress.Func
}

// ErrVerify is matched by every verification failure.
var ErrVerify = errors.New("bundle verification failed")

// ErrNoKey means no public key was given to check the bundle's signatures
// and unsigned bundles were not explicitly allowed: meshpack fails closed.
var ErrNoKey = errors.New("no public key to check the bundle's signatures, and unsigned bundles are not allowed")

// UnsignedAllowed is what Pull records in BOM.Unsigned when it writes a
// bundle without a signing key because PullOptions.AllowUnsigned said so.
const UnsignedAllowed = "no signing key; unsigned explicitly allowed"

// legacyUnsigned is what BOM.Unsigned held before it named the option
// instead of the command-line flag; it means UnsignedAllowed.
const legacyUnsigned = "--allow-unsigned"

// UnsignedReason says why the bundle of bom is unsigned: BOM.Unsigned, with
// the value older bundles recorded read as UnsignedAllowed.
func UnsignedReason(bom *bundle.BOM) string {
	switch bom.Unsigned {
	case "", legacyUnsigned:
		return UnsignedAllowed
	}
	return bom.Unsigned
}

// What LoadResult.Verified says was checked before pushing.
const (
	VerifiedSigned   = "digests+signatures"
	VerifiedUnsigned = "digests only (unsigned allowed)"
	VerifiedSkipped  = "skipped"
)

// Verify checks a bundle completely and offline: every blob against its
// digest, the BOM against the layout (bundle.Verify), and with a key the BOM
// signature and a signature by that key on every image manifest and index.
// It never touches the network. The error names the first failure; the
// report has every check.
func Verify(ctx context.Context, r *bundle.Reader, opts VerifyOptions) (*bundle.Report, error) {
	if opts.Key == nil && !opts.AllowUnsigned {
		return nil, ErrNoKey
	}
	rep, err := bundle.Verify(ctx, r, bundle.VerifyOptions{Concurrency: opts.Concurrency, Progress: opts.Progress})
	if err != nil {
		return rep, err
	}
	sig := &bundle.Check{Name: CheckSignatures, OK: true}
	rep.Checks = append(rep.Checks, sig)
	if opts.Key == nil {
		sig.Summary = "NOT checked: no key, unsigned allowed"
	} else {
		checkSignatures(ctx, r, opts.Key, sig)
	}
	if p := rep.First(); p != nil {
		return rep, fmt.Errorf("%w: %s", ErrVerify, p.Error())
	}
	return rep, nil
}

// checkSignatures verifies the BOM signature and the image signatures.
func checkSignatures(ctx context.Context, r *bundle.Reader, key signing.Verifier, c *bundle.Check) {
	fail := func(entry string, d digest.Digest, arts []string, err error) {
		c.OK = false
		c.Count++
		if len(c.Problems) < 10 {
			c.Problems = append(c.Problems, &bundle.Problem{Check: CheckSignatures, Entry: entry, Digest: d, Offset: -1, Artifacts: arts, Err: err})
		}
	}
	bom, err := r.BOM()
	if err != nil {
		fail(bundle.BOMName, "", nil, err)
		return
	}
	bomBytes, err := r.File(bundle.BOMName)
	if err != nil {
		fail(bundle.BOMName, "", nil, err)
		return
	}
	sigBytes, err := r.File(bundle.BOMSigName)
	switch {
	case err != nil && !bom.Signed:
		fail(bundle.BOMSigName, "", nil, fmt.Errorf("the bundle is unsigned (%s); it cannot be verified with a key", UnsignedReason(bom)))
		return
	case err != nil:
		fail(bundle.BOMSigName, "", nil, fmt.Errorf("missing although the BOM says the bundle is signed: %w", err))
		return
	}
	if err := signing.VerifyBlob(ctx, key, bomBytes, sigBytes); err != nil {
		fail(bundle.BOMSigName, "", nil, fmt.Errorf("the BOM signature does not verify with this key (wrong key, or bom.json was changed): %w", err))
		return
	}
	hasSBOM, err := checkSBOMSignature(ctx, r, key)
	if err != nil {
		fail(sbom.SigFileName, "", nil, err)
	}
	sbomVerified := hasSBOM && err == nil
	sigs := map[string]bundle.Artifact{}
	for _, a := range bom.Artifacts {
		if a.Kind == bundle.KindSignature {
			sigs[a.Subject] = a
		}
	}
	images, checked := 0, 0
	for _, a := range bom.Artifacts {
		if a.Kind != bundle.KindImage {
			continue
		}
		images++
		subjects := []string{a.Digest}
		for _, p := range a.Platforms {
			if p.Digest != a.Digest {
				subjects = append(subjects, p.Digest)
			}
		}
		for _, s := range subjects {
			label := []string{a.Source + "@" + s}
			sa, ok := sigs[s]
			if !ok {
				fail("", digest.Digest(s), label, errors.New("no signature image in the bundle"))
				continue
			}
			if err := verifyImageSignature(ctx, r, key, s, sa); err != nil {
				fail("", digest.Digest(sa.Digest), label, err)
				continue
			}
			checked++
		}
	}
	c.Summary = fmt.Sprintf("BOM signature and %d image signatures of %d images verified", checked, images)
	if sbomVerified {
		c.Summary = fmt.Sprintf("BOM and SBOM signatures and %d image signatures of %d images verified", checked, images)
	}
}

func verifyImageSignature(ctx context.Context, r *bundle.Reader, key signing.Verifier, subject string, sa bundle.Artifact) error {
	d, err := digest.Parse(sa.Digest)
	if err != nil {
		return err
	}
	desc, err := r.Resolve(ctx, d.String())
	if err != nil {
		return fmt.Errorf("signature manifest %s: %w", d, err)
	}
	manifest, err := content.FetchAll(ctx, r, desc)
	if err != nil {
		return fmt.Errorf("signature manifest %s: %w", d, err)
	}
	sig, err := signing.ParseSignatureImage(ctx, r, manifest)
	if err != nil {
		return err
	}
	sd, err := digest.Parse(subject)
	if err != nil {
		return err
	}
	if _, err := signing.Verify(ctx, key, sd, sig); err != nil {
		return fmt.Errorf("signature does not verify with this key (swapped or foreign signature): %w", err)
	}
	return nil
}

package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Result reports what Verify found in a signature image.
type Result struct {
	// Subject is the manifest digest that was verified.
	Subject digest.Digest
	// Key is the Fingerprint of the verifier's public key.
	Key string
	// Verified counts the layers whose signature verifies with the key and
	// whose payload names Subject.
	Verified int
	// Layers has one entry per signature layer, in manifest order.
	Layers []LayerResult
}

// LayerResult is the outcome for one signature layer.
type LayerResult struct {
	// Digest is the layer (payload) digest.
	Digest digest.Digest
	// DockerReference is the identity claimed by the payload, if it parsed.
	// Like cosign, Verify does not compare it with where the image is stored:
	// an image mirrored to another registry keeps its upstream identity.
	DockerReference string
	// SignedDigest is the manifest digest the payload names, if it parsed.
	SignedDigest digest.Digest
	// Err is nil if the layer verified; otherwise it wraps ErrBadSignature
	// (not signed by this key), ErrDigestMismatch or ErrMalformed.
	Err error
}

// Verify checks sig, the signature image stored for subject, with v, the way
// `cosign verify --key cosign.pub --insecure-ignore-tlog` does: it succeeds
// if at least one layer carries a signature that verifies with the key over
// its payload and that payload's docker-manifest-digest equals subject.
//
// Verify is offline: no transparency log, certificate authority, TUF
// repository or registry is contacted.
//
// On failure the error wraps ErrDigestMismatch when a layer signed by the key
// names another digest (a swapped signature), ErrNoSignature when no layer is
// signed by the key, or ErrMalformed when the image cannot be read. The
// Result is filled in either case.
func Verify(ctx context.Context, v Verifier, subject digest.Digest, sig *SignatureImage) (Result, error) {
	res := Result{Subject: subject}
	if err := subject.Validate(); err != nil {
		return res, fmt.Errorf("verify: subject digest %q: %w", subject, err)
	}
	fp, err := Fingerprint(v.PublicKey())
	if err != nil {
		return res, fmt.Errorf("%s: verify: %w", subject, err)
	}
	res.Key = fp
	h, err := v1.NewHash(subject.String())
	if err != nil {
		return res, fmt.Errorf("%s: verify: %w", subject, err)
	}
	sigs, err := toSignatures(sig)
	if err != nil {
		return res, fmt.Errorf("%s: verify signature image: %w", subject, err)
	}
	layers, err := sigs.Get()
	if err != nil {
		return res, fmt.Errorf("%s: verify signature image: %w", subject, err)
	}
	co := &cosign.CheckOpts{
		SigVerifier: sigstoreVerifier{v: v},
		IgnoreTlog:  true,
		IgnoreSCT:   true,
		Offline:     true,
	}
	for _, l := range layers {
		lr := verifyLayer(ctx, co, l, h)
		if lr.Err == nil {
			res.Verified++
		}
		res.Layers = append(res.Layers, lr)
	}
	if res.Verified > 0 {
		return res, nil
	}
	return res, summarize(res, sig)
}

// verifyLayer checks one layer: the signature with cosign's own offline
// check, then the claimed manifest digest.
func verifyLayer(ctx context.Context, co *cosign.CheckOpts, l oci.Signature, subject v1.Hash) LayerResult {
	var lr LayerResult
	if h, err := l.Digest(); err == nil {
		lr.Digest = digest.Digest(h.String())
	}
	body, err := l.Payload()
	if err != nil {
		lr.Err = fmt.Errorf("layer %s: payload: %w: %w", lr.Digest, ErrMalformed, err)
		return lr
	}
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(body, &p); err == nil {
		lr.DockerReference = p.Critical.Identity.DockerReference
		lr.SignedDigest = digest.Digest(p.Critical.Image.DockerManifestDigest)
	}
	if _, err := cosign.VerifyImageSignature(ctx, l, subject, co); err != nil {
		if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
			err = fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		lr.Err = fmt.Errorf("layer %s: %w", lr.Digest, err)
		return lr
	}
	switch {
	case p.Critical.Type != payload.CosignSignatureType:
		lr.Err = fmt.Errorf("layer %s: payload type %q, want %q: %w", lr.Digest, p.Critical.Type, payload.CosignSignatureType, ErrMalformed)
	case lr.SignedDigest.String() != subject.String():
		lr.Err = fmt.Errorf("layer %s: signed payload names docker-manifest-digest %s, want %s: %w",
			lr.Digest, lr.SignedDigest, subject, ErrDigestMismatch)
	}
	return lr
}

// summarize builds the error for a signature image with no valid layer,
// preferring the most telling cause.
func summarize(res Result, sig *SignatureImage) error {
	where := fmt.Sprintf("%s: signature image", res.Subject)
	if sig != nil {
		where = fmt.Sprintf("%s: signature image %s", res.Subject, sig.Descriptor().Digest)
	}
	if len(res.Layers) == 0 {
		return fmt.Errorf("%s has no signature layers: %w", where, ErrNoSignature)
	}
	var msgs []string
	for _, lr := range res.Layers {
		if errors.Is(lr.Err, ErrDigestMismatch) {
			return fmt.Errorf("%s: key %s signed %s, not %s (signature of another image): %w",
				where, res.Key, lr.SignedDigest, res.Subject, ErrDigestMismatch)
		}
		msgs = append(msgs, lr.Err.Error())
	}
	return fmt.Errorf("%s: none of %d layers is signed by key %s (%s): %w",
		where, len(res.Layers), res.Key, strings.Join(msgs, "; "), ErrNoSignature)
}

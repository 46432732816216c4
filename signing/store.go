package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Fetch reads the signature image of subject from src (a registry
// repository, an OCI layout or a bundle): it resolves SignatureTag(subject)
// and parses what it names. If there is none, the error wraps both
// ErrNoSignature and oras' errdef.ErrNotFound.
func Fetch(ctx context.Context, src oras.ReadOnlyTarget, subject digest.Digest) (*SignatureImage, error) {
	tag := SignatureTag(subject)
	desc, err := src.Resolve(ctx, tag)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("%s: signature tag %s not found: %w: %w", subject, tag, ErrNoSignature, err)
		}
		return nil, fmt.Errorf("%s: resolve signature tag %s: %w", subject, tag, err)
	}
	if desc.Size < 0 || desc.Size > maxManifestSize {
		return nil, fmt.Errorf("%s: signature manifest %s: size %d outside 0..%d: %w", subject, desc.Digest, desc.Size, maxManifestSize, ErrMalformed)
	}
	manifest, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		return nil, fmt.Errorf("%s: fetch signature manifest %s: %w", subject, desc.Digest, err)
	}
	sig, err := ParseSignatureImage(ctx, src, manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	return sig, nil
}

// Push stores sig in dst as the signature image of subject: it pushes the
// blobs that dst lacks, then the manifest, and tags it SignatureTag(subject),
// replacing any signature image tagged there before.
func Push(ctx context.Context, dst oras.Target, subject digest.Digest, sig *SignatureImage) error {
	if err := subject.Validate(); err != nil {
		return fmt.Errorf("push signature: subject digest %q: %w", subject, err)
	}
	if _, _, err := sig.blobs(); err != nil {
		return fmt.Errorf("%s: push signature image: %w", subject, err)
	}
	for _, b := range sig.Blobs {
		if err := pushIfMissing(ctx, dst, b.Descriptor, b.Data); err != nil {
			return fmt.Errorf("%s: push signature blob %s: %w", subject, b.Descriptor.Digest, err)
		}
	}
	desc := sig.Descriptor()
	if err := pushIfMissing(ctx, dst, desc, sig.Manifest); err != nil {
		return fmt.Errorf("%s: push signature manifest %s: %w", subject, desc.Digest, err)
	}
	if err := dst.Tag(ctx, desc, SignatureTag(subject)); err != nil {
		return fmt.Errorf("%s: tag signature manifest %s as %s: %w", subject, desc.Digest, SignatureTag(subject), err)
	}
	return nil
}

func pushIfMissing(ctx context.Context, dst oras.Target, desc ocispec.Descriptor, data []byte) error {
	ok, err := dst.Exists(ctx, desc)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	err = dst.Push(ctx, desc, bytes.NewReader(data))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}

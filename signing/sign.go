package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	cosignremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	cosignmutate "github.com/sigstore/cosign/v2/pkg/oci/mutate"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Sign signs subject (an image manifest or index) the way
// `cosign sign --key … --tlog-upload=false` does and returns the new
// signature image to store under SignatureTag(subject.Digest).
//
// The signed payload is cosign's simple-signing JSON with
// critical.identity.docker-reference = dockerReference (see DockerReference)
// and critical.image.docker-manifest-digest = subject.Digest.
//
// existing is the signature image already stored for subject (for example
// the upstream Istio one), or nil. Its layers are kept byte for byte and one
// layer is appended, exactly as cosign does when a .sig exists. If existing
// already holds a signature by the same key over the same payload it is
// returned unchanged (cosign's duplicate detection), so signing is idempotent.
func Sign(ctx context.Context, s Signer, dockerReference string, subject ocispec.Descriptor, existing *SignatureImage) (*SignatureImage, error) {
	if err := subject.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("sign: subject digest %q: %w", subject.Digest, err)
	}
	if dockerReference == "" {
		return nil, fmt.Errorf("%s: sign: empty docker reference; pass the image repository (see DockerReference)", subject.Digest)
	}
	base, err := toSignatures(existing)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: existing signature image: %w", subject.Digest, err)
	}
	body, err := SimpleSigningPayload(dockerReference, subject.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", subject.Digest, err)
	}
	raw, err := s.Sign(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("%s: sign payload: %w", subject.Digest, err)
	}
	sig, err := static.NewSignature(body, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: sign: signature layer: %w", subject.Digest, err)
	}

	v, err := verifierFor(s)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", subject.Digest, err)
	}
	dupe, err := cosignremote.NewDupeDetector(sigstoreVerifier{v: v}).Find(base, sig)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: look for an existing signature: %w", subject.Digest, err)
	}
	if dupe != nil && existing != nil {
		return existing, nil
	}

	out, err := cosignmutate.AppendSignatures(base, false, sig)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: append signature layer: %w", subject.Digest, err)
	}
	known, err := knownBlobs(existing)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", subject.Digest, err)
	}
	added, err := layerContent(sig)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", subject.Digest, err)
	}
	img, err := fromImage(out, known, added)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", subject.Digest, err)
	}
	return img, nil
}

// SimpleSigningPayload returns the payload cosign signs for an image: the
// simple-signing JSON naming dockerReference and manifest digest d, with no
// optional claims.
func SimpleSigningPayload(dockerReference string, d digest.Digest) ([]byte, error) {
	body, err := json.Marshal(payload.SimpleContainerImage{
		Critical: payload.Critical{
			Identity: payload.Identity{DockerReference: dockerReference},
			Image:    payload.Image{DockerManifestDigest: d.String()},
			Type:     payload.CosignSignatureType,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode simple-signing payload: %w", err)
	}
	return body, nil
}

func knownBlobs(s *SignatureImage) (map[digest.Digest][]byte, error) {
	if s == nil {
		return nil, nil
	}
	_, blobs, err := s.blobs()
	return blobs, err
}

func layerContent(sig oci.Signature) (map[digest.Digest][]byte, error) {
	h, err := sig.Digest()
	if err != nil {
		return nil, fmt.Errorf("signature layer digest: %w", err)
	}
	body, err := sig.Payload()
	if err != nil {
		return nil, fmt.Errorf("signature layer payload: %w", err)
	}
	return map[digest.Digest][]byte{digest.Digest(h.String()): body}, nil
}

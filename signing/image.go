package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/mediatype"
)

// Size limits for everything read into memory. Signature images are small
// metadata: a config and one short JSON payload per signature.
const (
	maxManifestSize  = 4 << 20 // 4 MiB, as oras MaxMetadataBytes
	maxBlobSize      = 4 << 20 // config and payload layers
	maxSignatureSize = 64 << 10
	maxLayers        = 1000 // cosign's limit on signatures per image
)

// Blob is one blob of a signature image (its config or a layer) with its
// content.
type Blob struct {
	// Descriptor is the blob's descriptor as listed in the manifest.
	Descriptor ocispec.Descriptor
	// Data is the blob's content; its sha256 and length match Descriptor.
	Data []byte
}

// SignatureImage is a cosign signature image held in memory: the manifest
// stored under SignatureTag(subject), with its config and layers. Each layer
// is one simple-signing payload; its signature is the layer annotation
// "dev.cosignproject.cosign/signature".
type SignatureImage struct {
	// Manifest is the raw manifest, byte for byte as stored in the registry.
	Manifest []byte
	// MediaType is the manifest's media type.
	MediaType string
	// Blobs holds the config and the layers, unique by digest, config first
	// then layers in manifest order.
	Blobs []Blob
}

// Descriptor returns the descriptor of the manifest (media type, digest and size).
func (s *SignatureImage) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: s.MediaType,
		Digest:    digest.FromBytes(s.Manifest),
		Size:      int64(len(s.Manifest)),
	}
}

// SignatureTag returns the tag cosign stores the signature image of subject
// under, in the subject's repository: "sha256-<hex>.sig".
func SignatureTag(subject digest.Digest) string {
	return subject.Algorithm().String() + "-" + subject.Encoded() + ".sig"
}

// DockerReference returns the identity `cosign sign` writes into the payload
// for an image reference: the fully qualified repository, without tag or
// digest ("docker.io/istio/pilot:1.28.1" gives "index.docker.io/istio/pilot").
func DockerReference(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("%s: parse image reference: %w", ref, err)
	}
	return r.Context().Name(), nil
}

// ParseSignatureImage reads a signature image: it parses manifest, then
// fetches its config and layers from fetcher, checking each against its
// descriptor. The manifest and each blob are limited to 4 MiB and the image
// to 1000 layers.
func ParseSignatureImage(ctx context.Context, fetcher content.Fetcher, manifest []byte) (*SignatureImage, error) {
	m, err := parseManifest(manifest)
	if err != nil {
		return nil, err
	}
	sig := &SignatureImage{Manifest: bytes.Clone(manifest), MediaType: m.MediaType}
	seen := map[digest.Digest]bool{}
	for _, desc := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if seen[desc.Digest] {
			continue
		}
		seen[desc.Digest] = true
		data, err := fetchBlob(ctx, fetcher, desc)
		if err != nil {
			return nil, fmt.Errorf("signature image %s: %w", digest.FromBytes(manifest), err)
		}
		sig.Blobs = append(sig.Blobs, Blob{Descriptor: desc, Data: data})
	}
	return sig, nil
}

// fetchBlob reads one small blob and checks its digest and size.
func fetchBlob(ctx context.Context, fetcher content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size < 0 || desc.Size > maxBlobSize {
		return nil, fmt.Errorf("blob %s: size %d outside 0..%d: %w", desc.Digest, desc.Size, maxBlobSize, ErrMalformed)
	}
	rc, err := fetcher.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("blob %s: fetch: %w", desc.Digest, err)
	}
	defer rc.Close()
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("blob %s: read: %w", desc.Digest, err)
	}
	return data, nil
}

// parseManifest decodes and sanity-checks a signature image manifest.
func parseManifest(manifest []byte) (*ocispec.Manifest, error) {
	if len(manifest) > maxManifestSize {
		return nil, fmt.Errorf("signature manifest: %d bytes, limit %d: %w", len(manifest), maxManifestSize, ErrMalformed)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("signature manifest %s: %w: %w", digest.FromBytes(manifest), ErrMalformed, err)
	}
	switch {
	case m.SchemaVersion != 2:
		return nil, fmt.Errorf("signature manifest %s: schemaVersion %d, want 2: %w", digest.FromBytes(manifest), m.SchemaVersion, ErrMalformed)
	case m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != mediatype.DockerManifest:
		// cosign writes OCI by default and Docker schema 2 with
		// COSIGN_DOCKER_MEDIA_TYPES=1.
		return nil, fmt.Errorf("signature manifest %s: media type %q, want %q or %q: %w",
			digest.FromBytes(manifest), m.MediaType, ocispec.MediaTypeImageManifest, mediatype.DockerManifest, ErrMalformed)
	case len(m.Layers) > maxLayers:
		return nil, fmt.Errorf("signature manifest %s: %d layers, limit %d: %w", digest.FromBytes(manifest), len(m.Layers), maxLayers, ErrMalformed)
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("signature manifest %s: descriptor digest %q: %w: %w", digest.FromBytes(manifest), d.Digest, ErrMalformed, err)
		}
	}
	return &m, nil
}

// blobs indexes the blobs of a signature image by digest after checking
// that each one matches its descriptor and that the manifest lists no blob
// that is missing.
func (s *SignatureImage) blobs() (*ocispec.Manifest, map[digest.Digest][]byte, error) {
	if s == nil {
		return nil, nil, fmt.Errorf("signature image is nil: %w", ErrMalformed)
	}
	m, err := parseManifest(s.Manifest)
	if err != nil {
		return nil, nil, err
	}
	if s.MediaType != m.MediaType {
		return nil, nil, fmt.Errorf("signature image %s: media type %q, manifest says %q: %w",
			digest.FromBytes(s.Manifest), s.MediaType, m.MediaType, ErrMalformed)
	}
	byDigest := make(map[digest.Digest][]byte, len(s.Blobs))
	for _, b := range s.Blobs {
		if got := digest.FromBytes(b.Data); got != b.Descriptor.Digest || int64(len(b.Data)) != b.Descriptor.Size {
			return nil, nil, fmt.Errorf("signature image %s: blob %s: got digest %s and size %d, want size %d: %w",
				digest.FromBytes(s.Manifest), b.Descriptor.Digest, got, len(b.Data), b.Descriptor.Size, ErrMalformed)
		}
		byDigest[b.Descriptor.Digest] = b.Data
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		data, ok := byDigest[d.Digest]
		if !ok || int64(len(data)) != d.Size {
			return nil, nil, fmt.Errorf("signature image %s: blob %s (size %d) listed in the manifest is missing: %w",
				digest.FromBytes(s.Manifest), d.Digest, d.Size, ErrMalformed)
		}
	}
	return m, byDigest, nil
}

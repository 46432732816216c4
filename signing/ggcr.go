package signing

import (
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrempty "github.com/google/go-containerregistry/pkg/v1/empty"
	ggcrmutate "github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/cosign/v2/pkg/oci"
	cosignsig "github.com/sigstore/cosign/v2/pkg/oci/signature"
)

// This file keeps go-containerregistry and cosign's oci types internal: it
// turns a SignatureImage into cosign's oci.Signatures and back.

// memImage is a partial.CompressedImageCore over the bytes of a SignatureImage.
type memImage struct {
	manifest  []byte
	mediaType types.MediaType
	config    []byte
	blobs     map[digest.Digest][]byte
}

func (m *memImage) RawConfigFile() ([]byte, error)      { return m.config, nil }
func (m *memImage) MediaType() (types.MediaType, error) { return m.mediaType, nil }
func (m *memImage) RawManifest() ([]byte, error)        { return m.manifest, nil }

func (m *memImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	data, ok := m.blobs[digest.Digest(h.String())]
	if !ok {
		return nil, fmt.Errorf("blob %s: not in signature image", h)
	}
	return &memLayer{data: data, hash: h}, nil
}

// memLayer is a partial.CompressedLayer over bytes. Signature layers are
// stored uncompressed, so compressed and uncompressed content are the same.
type memLayer struct {
	data []byte
	hash v1.Hash
	mt   types.MediaType
}

func (l *memLayer) Digest() (v1.Hash, error)            { return l.hash, nil }
func (l *memLayer) DiffID() (v1.Hash, error)            { return l.hash, nil }
func (l *memLayer) Size() (int64, error)                { return int64(len(l.data)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }

// memSignatures is cosign's oci.Signatures over a SignatureImage.
type memSignatures struct {
	v1.Image
	sigs []oci.Signature
}

func (m *memSignatures) Get() ([]oci.Signature, error) { return m.sigs, nil }

// toSignatures turns a validated SignatureImage into cosign's oci.Signatures;
// nil gives an empty signature image.
func toSignatures(s *SignatureImage) (oci.Signatures, error) {
	if s == nil {
		return emptySignatures(), nil
	}
	m, blobs, err := s.blobs()
	if err != nil {
		return nil, err
	}
	img, err := partial.CompressedToImage(&memImage{
		manifest:  s.Manifest,
		mediaType: types.MediaType(s.MediaType),
		config:    blobs[m.Config.Digest],
		blobs:     blobs,
	})
	if err != nil {
		return nil, fmt.Errorf("signature image %s: %w: %w", digest.FromBytes(s.Manifest), ErrMalformed, err)
	}
	sigs := make([]oci.Signature, 0, len(m.Layers))
	for _, d := range m.Layers {
		h, err := v1.NewHash(d.Digest.String())
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w: %w", d.Digest, ErrMalformed, err)
		}
		layer := &memLayer{data: blobs[d.Digest], hash: h, mt: types.MediaType(d.MediaType)}
		sigs = append(sigs, cosignsig.New(layer, toV1Descriptor(d, h)))
	}
	return &memSignatures{Image: img, sigs: sigs}, nil
}

// emptySignatures is the base cosign starts from when an image has no
// signature image yet (cosign's pkg/oci/empty.Signatures with its default
// OCI media types). It is built here so that the result does not depend on
// the COSIGN_DOCKER_MEDIA_TYPES environment variable.
func emptySignatures() oci.Signatures {
	base := ggcrmutate.MediaType(ggcrempty.Image, types.OCIManifestSchema1)
	base = ggcrmutate.ConfigMediaType(base, types.OCIConfigJSON)
	return &memSignatures{Image: base}
}

func toV1Descriptor(d ocispec.Descriptor, h v1.Hash) v1.Descriptor {
	return v1.Descriptor{
		MediaType:   types.MediaType(d.MediaType),
		Size:        d.Size,
		Digest:      h,
		URLs:        d.URLs,
		Annotations: d.Annotations,
	}
}

// fromImage serialises a signature image built with go-containerregistry.
// known holds blob contents already in memory (existing layers); newLayers
// provides the content of layers added by this call.
func fromImage(img v1.Image, known map[digest.Digest][]byte, newLayers map[digest.Digest][]byte) (*SignatureImage, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("signature image: manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("signature image: media type: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("signature image: config: %w", err)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, err
	}
	out := &SignatureImage{Manifest: raw, MediaType: string(mt)}
	seen := map[digest.Digest]bool{}
	add := func(d ocispec.Descriptor, data []byte) error {
		if seen[d.Digest] {
			return nil
		}
		if got := digest.FromBytes(data); got != d.Digest || int64(len(data)) != d.Size {
			return fmt.Errorf("signature image: blob %s: got digest %s size %d, want size %d", d.Digest, got, len(data), d.Size)
		}
		seen[d.Digest] = true
		out.Blobs = append(out.Blobs, Blob{Descriptor: d, Data: data})
		return nil
	}
	if err := add(m.Config, config); err != nil {
		return nil, err
	}
	for _, d := range m.Layers {
		data, ok := known[d.Digest]
		if !ok {
			data, ok = newLayers[d.Digest]
		}
		if !ok {
			return nil, fmt.Errorf("signature image: layer %s: content unknown", d.Digest)
		}
		if err := add(d, data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

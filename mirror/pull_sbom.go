package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/sbom"
	"github.com/lattice-mesh/meshpack/signing"
)

// CheckBundleSBOM marks the referrer that carries the bundle's own SBOM
// (meshpack/sbom.cdx.json) to an image.
const CheckBundleSBOM = "generated:bundle-sbom"

// AnnotationBlobSignature is the annotation of the SBOM referrer manifest
// holding what `cosign sign-blob` writes for the SBOM layer (base64), so
// that `cosign verify-blob --key cosign.pub` can check the SBOM after it was
// pulled from the registry.
const AnnotationBlobSignature = "dev.lattice.meshpack.blob.signature"

// metaFile is a metadata file (meshpack/*) written after the lock and
// listed in BOM.Files.
type metaFile struct {
	name string
	data []byte
}

type metaFiles []metaFile

// records are the BOM.Files entries of fs.
func (fs metaFiles) records() []bundle.MetadataFile {
	out := make([]bundle.MetadataFile, 0, len(fs))
	for _, f := range fs {
		out = append(out, bundle.MetadataOf(f.name, f.data))
	}
	return out
}

// addSBOM generates the bundle's CycloneDX SBOM from everything planned so
// far (images, charts, files, signatures, upstream referrers), signs it
// like the BOM when there is a signer, and attaches it to every image as an
// OCI referrer (an artifact manifest with the SBOM as its layer and the
// image as its subject), which load pushes like any other artifact. It
// returns the SBOM and its signature as metadata files; the BOM lists them
// in Files, so its signature covers both.
func (pl *puller) addSBOM(ctx context.Context, lock *manifests.Lock, p *plan) (metaFiles, error) {
	if pl.opts.Created.IsZero() {
		pl.opts.Created = time.Now().UTC().Truncate(time.Second)
	}
	pre := &bundle.BOM{
		SchemaVersion: bundle.BOMSchemaVersion, Tool: pl.opts.Tool, Created: pl.opts.Created,
		Set: setSummary(lock.Set), Platforms: pl.platforms, Signed: pl.opts.Signer != nil,
		Artifacts: p.artifacts, Blobs: p.blobs(),
	}
	if !pre.Signed {
		pre.Unsigned = UnsignedAllowed
	}
	if pl.opts.Base != nil {
		pre.Base = pl.opts.Base.ID
	}
	small := make(map[string][]byte, len(p.small))
	for _, b := range p.small {
		small[b.desc.Digest.String()] = b.data
	}
	doc, err := sbom.Generate(pre, sbom.Options{Manifest: func(d string) ([]byte, error) {
		if raw, ok := small[d]; ok {
			return raw, nil
		}
		return nil, errors.New("not among the planned manifests")
	}})
	if err != nil {
		return nil, err
	}
	files := metaFiles{{sbom.FileName, doc}}
	checks := []string{CheckBundleSBOM}
	var sig []byte
	if pl.opts.Signer != nil {
		if sig, err = signing.SignBlob(ctx, pl.opts.Signer, doc); err != nil {
			return nil, fmt.Errorf("sign %s: %w", sbom.FileName, err)
		}
		files = append(files, metaFile{sbom.SigFileName, sig})
		checks = append(checks, "signed:bundle-key")
	}
	config := newBlob(ocispec.MediaTypeEmptyJSON, []byte("{}"))
	layer := newBlob(mediatype.CycloneDXJSON, doc)
	layer.desc.Annotations = map[string]string{ocispec.AnnotationTitle: "sbom.cdx.json"}
	p.addSmall(config)
	p.addSmall(blobData{desc: ocispec.Descriptor{MediaType: layer.desc.MediaType, Digest: layer.desc.Digest, Size: layer.desc.Size}, data: doc})
	images := append([]bundle.Artifact(nil), p.artifacts...) // addRoot appends to p.artifacts
	for _, a := range images {
		if a.Kind != bundle.KindImage {
			continue
		}
		m, err := sbomReferrer(a, config.desc, layer.desc, pl.opts.Created, sig)
		if err != nil {
			return nil, fmt.Errorf("image %s: SBOM referrer: %w", a.Source, err)
		}
		p.addSmall(m)
		p.addRoot(bundle.Artifact{
			Kind: bundle.KindReferrer, Name: a.Name, Source: a.Source, Repository: a.Repository,
			Subject: a.Digest, ArtifactType: mediatype.CycloneDXJSON, Checks: checks,
		}, m.desc, registryOf(a.Source)+"/"+a.Repository+"@"+m.desc.Digest.String())
	}
	return files, nil
}

// sbomReferrer is the artifact manifest that attaches the SBOM layer to
// image a: artifactType CycloneDX JSON, the empty config, subject a's root.
func sbomReferrer(a bundle.Artifact, config, layer ocispec.Descriptor, created time.Time, sig []byte) (blobData, error) {
	subject, err := rootDescriptor(a)
	if err != nil {
		return blobData{}, err
	}
	ann := map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	if len(sig) > 0 {
		ann[AnnotationBlobSignature] = string(sig)
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: mediatype.CycloneDXJSON,
		Config:       config,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subject,
		Annotations:  ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return blobData{}, err
	}
	b := newBlob(ocispec.MediaTypeImageManifest, raw)
	b.desc.ArtifactType = mediatype.CycloneDXJSON
	return b, nil
}

// rootDescriptor is the descriptor of an artifact's root manifest or index.
func rootDescriptor(a bundle.Artifact) (ocispec.Descriptor, error) {
	d, err := digest.Parse(a.Digest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("digest %q: %w", a.Digest, err)
	}
	return ocispec.Descriptor{MediaType: a.MediaType, Digest: d, Size: a.Size}, nil
}

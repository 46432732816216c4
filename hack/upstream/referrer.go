package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// SBOMArtifactType is the artifactType of the SBOM the fixture attaches to
// the Kiali image as an OCI referrer, as an upstream's build pipeline would.
const SBOMArtifactType = "application/spdx+json"

// sbomRepository is the image upstream attaches an SBOM to.
const sbomRepository = "quay.io/kiali/kiali"

// attachSBOMs pushes, for every image in sbomRepository, an SPDX SBOM as an
// OCI referrer of its index (an artifact manifest whose subject is the
// index) and records its digest in the ImageInfo. Distribution has no
// referrers API, so oras-go also writes the referrers tag (sha256-<hex>,
// an index of the referrers), where clients look next.
func (s *seeder) attachSBOMs(ctx context.Context, infos []ImageInfo) error {
	attached := map[digest.Digest]digest.Digest{} // index -> SBOM referrer
	for i, info := range infos {
		if info.Repository != sbomRepository {
			continue
		}
		if d, ok := attached[info.Digest]; ok { // another tag of the same index
			infos[i].SBOMReferrer = d
			continue
		}
		r, err := s.repo(info.Repository)
		if err != nil {
			return err
		}
		r.SkipReferrersGC = true // Distribution refuses deletes unless enabled
		doc, err := json.Marshal(map[string]any{
			"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
			"name":              info.Reference,
			"documentNamespace": "https://fixture.invalid/spdx/" + strings.TrimPrefix(info.Digest.String(), "sha256:"),
			"creationInfo":      map[string]any{"created": "2026-01-01T00:00:00Z", "creators": []string{"Tool: meshpack-fixture-upstream"}},
		})
		if err != nil {
			return err
		}
		layer, err := pushBytes(ctx, r, SBOMArtifactType, doc, "")
		if err != nil {
			return err
		}
		config, err := pushBytes(ctx, r, ocispec.MediaTypeEmptyJSON, []byte("{}"), "")
		if err != nil {
			return err
		}
		subject := ocispec.Descriptor{MediaType: info.MediaType, Digest: info.Digest, Size: info.Size}
		m, err := json.Marshal(ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: SBOMArtifactType, Config: config, Layers: []ocispec.Descriptor{layer}, Subject: &subject,
			Annotations: map[string]string{ocispec.AnnotationCreated: "2026-01-01T00:00:00Z"},
		})
		if err != nil {
			return err
		}
		desc, err := pushBytes(ctx, r, ocispec.MediaTypeImageManifest, m, "")
		if err != nil {
			return fmt.Errorf("%s: attach SBOM: %w", info.Reference, err)
		}
		infos[i].SBOMReferrer = desc.Digest
		attached[info.Digest] = desc.Digest
	}
	return nil
}

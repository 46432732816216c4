package resolve

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// fetchOCIChart pins name:version from an OCI chart location such as
// "oci://gcr.io/istio-release/charts": the manifest digest is the pin, the
// chart layer (the .tgz) is read for rendering.
func fetchOCIChart(ctx context.Context, c *remote.Client, base, name, version string) (*fetchedChart, error) {
	ref := strings.TrimSuffix(strings.TrimPrefix(base, "oci://"), "/") + "/" + name + ":" + strings.ReplaceAll(version, "+", "_")
	repo, target, err := c.Repository(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", name, version, err)
	}
	desc, err := repo.Resolve(ctx, target.Reference.Reference)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: resolve oci://%s at %s: %w", name, version, ref, target, err)
	}
	raw, err := remote.FetchManifest(ctx, repo, desc)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: oci://%s: %w", name, version, ref, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("chart %s %s: oci://%s: parse manifest: %w", name, version, ref, err)
	}
	var layer *ocispec.Descriptor
	for i, l := range m.Layers {
		if l.MediaType == mediatype.HelmChart {
			layer = &m.Layers[i]
		}
	}
	if layer == nil || layer.Size > maxChartBytes {
		return nil, fmt.Errorf("chart %s %s: oci://%s is not a Helm chart (no %s layer of at most %d bytes)", name, version, ref, mediatype.HelmChart, maxChartBytes)
	}
	tgz, err := remote.FetchSmall(ctx, repo, *layer, maxChartBytes)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: oci://%s: chart layer: %w", name, version, ref, err)
	}
	return &fetchedChart{
		locked: manifests.LockedChart{
			Name: name, Version: version, Source: "oci://" + ref,
			Digest: desc.Digest.String(), ContentDigest: layer.Digest.String(),
			Size: layer.Size, Pinned: manifests.PinnedResolved,
		},
		tgz: tgz,
	}, nil
}

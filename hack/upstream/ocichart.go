package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Helm OCI media types (helm.sh/helm/v3/pkg/registry constants).
const (
	helmConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
	helmChartMediaType  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// pushChart pushes c as a Helm OCI artifact to repository name, tagged
// with the chart version, the way `helm push` lays it out.
func (s *seeder) pushChart(ctx context.Context, name string, c builtChart) (ocispec.Descriptor, error) {
	r, err := s.repo(name)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cfg, err := json.Marshal(c.meta)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("chart %s %s: config: %w", c.meta.Name, c.meta.Version, err)
	}
	configDesc, err := pushBytes(ctx, r, helmConfigMediaType, cfg, "")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layerDesc, err := pushBytes(ctx, r, helmChartMediaType, c.tgz, "")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	ann := map[string]string{
		ocispec.AnnotationTitle:   c.meta.Name,
		ocispec.AnnotationVersion: c.meta.Version,
		ocispec.AnnotationCreated: epoch.Format(time.RFC3339),
	}
	if c.meta.Description != "" {
		ann[ocispec.AnnotationDescription] = c.meta.Description
	}
	if len(c.meta.Sources) > 0 {
		ann[ocispec.AnnotationSource] = c.meta.Sources[0]
	}
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      configDesc,
		Layers:      []ocispec.Descriptor{layerDesc},
		Annotations: ann,
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("chart %s %s: manifest: %w", c.meta.Name, c.meta.Version, err)
	}
	return pushBytes(ctx, r, ocispec.MediaTypeImageManifest, mb, c.meta.Version)
}

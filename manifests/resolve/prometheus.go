package resolve

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// pinPrometheus pins the Prometheus a Kiali bundle carries: Istio's
// samples/addons/prometheus.yaml of the bundle's Istio version (a file,
// checked against the catalog's sha256 when it has one) and the images it
// names. Nothing is carried when the spec names an existing Prometheus
// (kiali.prometheusURL), or when there is no Istio release to take the
// manifest from (a note says so).
func (r *resolver) pinPrometheus(ctx context.Context, s *manifests.Spec, istio string) error {
	if s.Kiali.PrometheusURL != "" {
		return nil
	}
	if istio == "" {
		r.note("prometheus: no Istio release to take samples/addons/prometheus.yaml from, so none is carried; name the Prometheus Kiali reads with kiali.prometheusURL")
		return nil
	}
	pr, err := r.cat.PrometheusFor(istio)
	if err != nil {
		return err
	}
	r.note(pr.Notes...)
	data, sum, err := download(ctx, r.c, pr.URL, maxFileBytes)
	if err != nil {
		return fmt.Errorf("prometheus for kiali (Istio %s's samples/addons/%s): %w; to carry none, name an existing Prometheus with kiali.prometheusURL", istio, pr.Name, err)
	}
	pinned := manifests.PinnedResolved
	if pr.Digest != "" {
		if !strings.EqualFold(strings.TrimPrefix(pr.Digest, "sha256:"), sum) {
			return fmt.Errorf("prometheus for kiali: %s has sha256 %s but the catalog pins %s", pr.URL, sum, pr.Digest)
		}
		pinned = manifests.PinnedCatalog
	}
	imgs, err := render.DiscoverPrometheusImages(data, pr.Service, pr.Port)
	if err != nil {
		return fmt.Errorf("%s: %w", pr.URL, err)
	}
	for _, img := range imgs {
		r.addImage(shortName(img.Reference), img.Reference, img.Components, "")
	}
	lf := manifests.LockedFile{
		Name: pr.Name, Component: render.ComponentPrometheus, Version: istio, Source: pr.URL,
		Digest: "sha256:" + sum, Size: int64(len(data)), MediaType: "application/yaml", Pinned: pinned,
	}
	r.lock.Files = append(r.lock.Files, lf)
	r.pinned("file", pr.URL, ocispec.Descriptor{MediaType: lf.MediaType, Digest: digest.Digest(lf.Digest), Size: lf.Size})
	return nil
}

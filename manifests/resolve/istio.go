package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// pinIstio downloads the Istio charts the profile installs, renders them for
// every variant, and adds the discovered images, cross-checked against the
// catalog (a difference is noted; the union is carried, so nothing the
// catalog expects is ever dropped).
func (r *resolver) pinIstio(ctx context.Context, s *manifests.Spec, ir manifests.IstioResolution, cache indexCache) error {
	base := render.IstioRequest{
		Version: ir.Version, Profile: s.Istio.Profile, Hub: r.cat.ImageHub,
		IngressGateway: s.Istio.IngressGateway, CNI: s.Istio.CNI, Agentgateway: s.Istio.Agentgateway,
		KubeVersion: s.Kubernetes.Version,
	}
	charts := map[string]*chart.Chart{}
	for _, name := range base.Charts() {
		fc, err := r.fetchIstioChart(ctx, ir, name, cache)
		if err != nil {
			return err
		}
		r.addChart(fc.locked)
		ch, err := render.LoadChartArchive(bytes.NewReader(fc.tgz))
		if err != nil {
			return fmt.Errorf("chart %s %s from %s: %w", name, ir.Version, fc.locked.Source, err)
		}
		charts[name] = ch
	}
	signedBy := ir.Release.SignedBy(ir.Version)
	var discovered []render.Image
	for _, variant := range s.Variants() {
		req := base
		req.Variant = variant
		imgs, err := render.DiscoverIstioImages(charts, req)
		if err != nil {
			return fmt.Errorf("render istio %s (%s, %s): %w", ir.Version, req.Profile, variant, err)
		}
		discovered = append(discovered, imgs...)
	}
	for _, img := range discovered {
		r.addImage(shortName(img.Reference), img.Reference, img.Components, r.signedByFor(img.Reference, signedBy))
	}
	expected, err := r.cat.ExpectedImages(ir.Version, manifests.ImageOptions{
		Profile: s.Istio.Profile, Variants: s.Variants(), CNI: s.Istio.CNI, Agentgateway: s.Istio.Agentgateway,
	})
	if err != nil {
		return err
	}
	refs := make([]string, 0, len(expected))
	for _, e := range expected {
		refs = append(refs, e.Reference)
	}
	missing, extra := render.CompareWithCatalog(discovered, refs)
	for _, m := range missing {
		r.note(fmt.Sprintf("catalog expects %s but the rendered charts do not use it; carried anyway", m))
	}
	for _, x := range extra {
		r.note(fmt.Sprintf("the rendered charts use %s, which the catalog does not list; carried", x))
	}
	for _, e := range expected {
		r.addImage(e.Name, e.Reference, e.Components, e.SignedBy)
	}
	return nil
}

// fetchIstioChart tries the catalog's chart repositories in order.
func (r *resolver) fetchIstioChart(ctx context.Context, ir manifests.IstioResolution, name string, cache indexCache) (*fetchedChart, error) {
	var errs []error
	for _, repo := range ir.Release.Charts.Repos {
		fc, err := fetchHTTPChart(ctx, r.c, cache, repo.URL, name, ir.Version, "")
		if err == nil {
			if len(errs) > 0 {
				r.note(fmt.Sprintf("chart %s %s came from %s after earlier repositories failed", name, ir.Version, repo.URL))
			}
			return fc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrChartMismatch) {
			return nil, err // tampered or corrupted: never paper over it with another source
		}
		r.log.Warn("chart repository failed; trying the next", "chart", name, "repo", repo.URL, "error", err)
		errs = append(errs, err)
	}
	// Then the OCI locations (helm pull oci://), in the same order.
	for _, repo := range ir.Release.Charts.Repos {
		if repo.OCI == "" {
			continue
		}
		fc, err := fetchOCIChart(ctx, r.c, repo.OCI, name, ir.Version)
		if err == nil {
			r.note(fmt.Sprintf("chart %s %s came from %s (OCI) because no HTTP repository served it", name, ir.Version, repo.OCI))
			return fc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.log.Warn("OCI chart location failed; trying the next", "chart", name, "oci", repo.OCI, "error", err)
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("chart %s %s: %w: %w", name, ir.Version, ErrNoChartSource, errors.Join(errs...))
}

// signedByFor applies the release's signing key to images under the
// catalog's image hub only.
func (r *resolver) signedByFor(ref, key string) string {
	if strings.HasPrefix(ref, r.cat.ImageHub+"/") {
		return key
	}
	return ""
}

// addImage records an image to pin, merging components of duplicates.
func (r *resolver) addImage(name, ref string, components []string, signedBy string) {
	if req, ok := r.images[ref]; ok {
		for _, c := range components {
			if !slices.Contains(req.components, c) {
				req.components = append(req.components, c)
			}
		}
		if req.signedBy == "" {
			req.signedBy = signedBy
		}
		return
	}
	r.images[ref] = &imageRequest{name: name, reference: ref, components: slices.Clone(components), signedBy: signedBy}
}

func (r *resolver) hasImage(ref string) bool {
	_, ok := r.images[ref]
	return ok
}

// addExtraImage adds a user image (any registry), normalised and tagged.
func (r *resolver) addExtraImage(ref string) error {
	canon, err := manifests.NormalizeImage(ref)
	if err != nil {
		return fmt.Errorf("extra image: %w", err)
	}
	if !strings.Contains(canon[strings.LastIndex(canon, "/")+1:], ":") && !strings.Contains(canon, "@") {
		canon += ":latest"
	}
	r.addImage(shortName(canon), canon, []string{"extra"}, "")
	return nil
}

// shortName is the last path element without tag or digest.
func shortName(ref string) string {
	name := ref
	if i := strings.IndexAny(name, "@"); i >= 0 {
		name = name[:i]
	}
	name = name[strings.LastIndex(name, "/")+1:]
	if i := strings.Index(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name
}

func imageNames(imgs []render.Image) string {
	names := make([]string, 0, len(imgs))
	for _, i := range imgs {
		names = append(names, i.Reference)
	}
	return strings.Join(names, ", ")
}

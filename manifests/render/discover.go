package render

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/manifests"
)

// Image is one image a mesh install needs.
type Image struct {
	// Reference is the fully qualified reference, e.g.
	// "docker.io/istio/pilot:1.30.3-distroless".
	Reference string
	// Components that run it, sorted: "istiod", "cni", "ztunnel",
	// "sidecar-injector", "gateway", "waypoint", "agentgateway", "kiali".
	Components []string
	// Origin is the first of Origins.
	Origin string
	// Origins say where each use was found, sorted:
	// "rendered:istiod/templates/deployment.yaml" for an image in a rendered
	// workload, "injected:global.proxy.image" for one istiod injects at run time.
	Origins []string
}

// DiscoverIstioImages renders the Istio charts an install uses (see
// IstioRequest.Charts; charts maps chart name to chart) with ValuesFor, and
// returns every image they need, deduplicated and sorted by reference:
//   - the images of every container of every rendered workload (the gateway
//     chart's "image: auto" is skipped: istiod injects it);
//   - the images istiod injects at run time, computed from the values istiod
//     reads (the istio-sidecar-injector ConfigMap) the way istiod does: the
//     proxy (sidecars, gateways, waypoints) from global.hub, global.proxy.image,
//     global.tag and global.variant, an image containing "/" used whole; the
//     init container from global.proxy_init.image when it contains "/", else
//     the proxy image;
//   - the agentgateway image when req.Agentgateway.
//
// Images of opt-in injection templates that a pod must ask for by annotation
// (grpc-simple's busybox) are not included.
func DiscoverIstioImages(charts map[string]*chart.Chart, req IstioRequest) ([]Image, error) {
	return discoverIstio(charts, req, func(c string) (map[string]any, error) { return ValuesFor(c, req), nil })
}

func discoverIstio(charts map[string]*chart.Chart, req IstioRequest, values func(string) (map[string]any, error)) ([]Image, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	set := imageSet{}
	var injector *Object
	for _, name := range req.Charts() {
		ch := charts[name]
		if ch == nil {
			return nil, fmt.Errorf("istio chart %q: missing; this install renders %s", name, strings.Join(req.Charts(), ", "))
		}
		vals, err := values(name)
		if err != nil {
			return nil, err
		}
		out, err := Chart(ch, vals, Release{KubeVersion: req.KubeVersion})
		if err != nil {
			return nil, err
		}
		objs, err := out.withImages().Objects()
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", name, err)
		}
		for i, o := range objs {
			for _, img := range o.Images() {
				if img == "auto" {
					continue
				}
				if err := set.add(img, []string{name}, "rendered:"+o.File); err != nil {
					return nil, fmt.Errorf("chart %s: %w", name, err)
				}
			}
			if name == ChartIstiod && o.Kind() == "ConfigMap" && strings.HasPrefix(o.Name(), "istio-sidecar-injector") {
				injector = &objs[i]
			}
		}
	}
	if injector == nil {
		return nil, fmt.Errorf("chart istiod %s: rendered no istio-sidecar-injector ConfigMap, so the injected proxy image is unknown", charts[ChartIstiod].Metadata.Version)
	}
	if err := addInjected(set, injector, req, charts[ChartIstiod]); err != nil {
		return nil, err
	}
	return set.list(), nil
}

// addInjected adds the images istiod's injector and gateway controller use,
// from the values istiod reads at run time.
func addInjected(set imageSet, cm *Object, req IstioRequest, istiod *chart.Chart) error {
	raw, _ := lookup(cm.Data, "data", "values").(string)
	var vals map[string]any
	if err := json.Unmarshal([]byte(raw), &vals); err != nil {
		return fmt.Errorf("%s: istio-sidecar-injector values: %w", cm.File, err)
	}
	g, _ := vals["global"].(map[string]any)
	hub, tag, variant := str(g["hub"]), str(g["tag"]), str(g["variant"])
	whole := func(key, name string) string {
		if img := str(lookup(g, key, "image")); strings.Contains(img, "/") {
			return img
		} else if img != "" {
			name = img
		}
		return imageRef(hub, name, tag, variant)
	}
	if hub == "" || tag == "" {
		return fmt.Errorf("%s: istio-sidecar-injector values have no global.hub or global.tag", cm.File)
	}
	proxy := whole("proxy", "proxyv2")
	comps := []string{"gateway", "sidecar-injector"}
	if req.ambient() {
		comps = append(comps, "waypoint")
	}
	if err := set.add(proxy, comps, "injected:global.proxy.image"); err != nil {
		return err
	}
	initImage := proxy
	if img := str(lookup(g, "proxy_init", "image")); strings.Contains(img, "/") {
		initImage = img
	}
	if err := set.add(initImage, []string{"sidecar-injector"}, "injected:global.proxy_init.image"); err != nil {
		return err
	}
	if !req.Agentgateway {
		return nil
	}
	if istiod.Files != nil && !hasFile(istiod, "files/agentgateway.yaml") {
		return fmt.Errorf("chart istiod %s: has no agentgateway template; agentgateway needs Istio 1.29 or later", istiod.Metadata.Version)
	}
	return set.add(whole("agentgateway", "agentgateway"), []string{"agentgateway"}, "injected:global.agentgateway.image")
}

// DiscoverKialiImages renders the kiali-server chart for kialiVersion and
// returns its images. The chart's version must be kialiVersion.
func DiscoverKialiImages(ch *chart.Chart, kialiVersion string) ([]Image, error) {
	v := strings.TrimPrefix(kialiVersion, "v")
	if ch.Metadata.Version != v {
		return nil, fmt.Errorf("chart %s %s: not the chart of kiali %s", ch.Name(), ch.Metadata.Version, v)
	}
	out, err := Chart(ch, KialiValues(v), Release{})
	if err != nil {
		return nil, err
	}
	objs, err := out.Objects()
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
	}
	set := imageSet{}
	for _, o := range objs {
		for _, img := range o.Images() {
			if err := set.add(img, []string{"kiali"}, "rendered:"+o.File); err != nil {
				return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
			}
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("chart %s %s: rendered no image", ch.Name(), ch.Metadata.Version)
	}
	return set.list(), nil
}

// KialiValues returns the values meshpack passes to kiali-server: the image
// tag of the version ("v2.26.0").
func KialiValues(kialiVersion string) map[string]any {
	return map[string]any{"deployment": map[string]any{"image_version": "v" + strings.TrimPrefix(kialiVersion, "v")}}
}

// withImages keeps the rendered files that can hold an image (skipping, for
// instance, base's CRDs), so that only those are parsed.
func (r Rendered) withImages() Rendered {
	out := Rendered{}
	for f, text := range r {
		if strings.Contains(text, "image") {
			out[f] = text
		}
	}
	return out
}

// imageSet merges uses of the same image.
type imageSet map[string]*Image

func (s imageSet) add(ref string, comps []string, origin string) error {
	norm, err := manifests.NormalizeImage(ref)
	if err != nil {
		return err
	}
	img := s[norm]
	if img == nil {
		img = &Image{Reference: norm}
		s[norm] = img
	}
	img.Components = appendUnique(img.Components, comps...)
	img.Origins = appendUnique(img.Origins, origin)
	img.Origin = img.Origins[0]
	return nil
}

func (s imageSet) list() []Image {
	out := make([]Image, 0, len(s))
	for _, img := range s {
		out = append(out, *img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reference < out[j].Reference })
	return out
}

func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		i := sort.SearchStrings(list, a)
		if i < len(list) && list[i] == a {
			continue
		}
		list = append(list, "")
		copy(list[i+1:], list[i:])
		list[i] = a
	}
	return list
}

func hasFile(ch *chart.Chart, name string) bool {
	for _, f := range ch.Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	return fmt.Sprint(v)
}

package render

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/manifests"
)

// PinnedValues returns ValuesFor(component, req) with every image the chart
// renders or istiod injects pointed at registry (host[:port][/prefix], path
// kept: docker.io/istio/pilot -> REGISTRY/istio/pilot) by digest. digests
// maps canonical upstream references ("docker.io/istio/pilot:1.30.3") to
// "sha256:…"; a missing digest is an error, never a silent fall-back to a tag.
// The value paths (re-checked by a render test, DESIGN.md "Install"):
//   - istiod: image (containing "/", used whole), global.proxy.image and
//     global.proxy_init.image (used whole by the injection templates),
//     global.agentgateway.image when req.Agentgateway (an error before Istio
//     1.29: the 1.28 injector ConfigMap has no agentgateway template, so the
//     key would be set and never read); global.hub too.
//   - cni: image (used whole).
//   - ztunnel: hub, variant "" and tag "<tag>[-variant]@sha256:…" (a tag plus
//     digest reference; runtimes resolve it by digest).
//   - base, gateway: nothing (the gateway's proxy comes from istiod).
//
// req.Hub and req.Version are required.
func PinnedValues(component string, req IstioRequest, digests map[string]string, registry string) (map[string]any, error) {
	if req.Hub == "" || req.Version == "" {
		return nil, fmt.Errorf("pinned values for %s: the request needs Hub and Version", component)
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	targetHub, err := targetHubOf(req.Hub, registry)
	if err != nil {
		return nil, err
	}
	pin := func(name string) (string, error) {
		return pinnedRef(imageRef(req.Hub, name, req.Version, req.variant()), digests, registry)
	}
	vals := ValuesFor(component, req)
	switch component {
	case ChartIstiod:
		g, _ := vals["global"].(map[string]any)
		g["hub"] = targetHub
		pilot, err := pin("pilot")
		if err != nil {
			return nil, err
		}
		proxy, err := pin("proxyv2")
		if err != nil {
			return nil, err
		}
		vals["image"] = pilot
		g["proxy"] = map[string]any{"image": proxy}
		g["proxy_init"] = map[string]any{"image": proxy}
		if req.Agentgateway {
			if err := agentgatewaySupported(req.Version); err != nil {
				return nil, err
			}
			ag, err := pin("agentgateway")
			if err != nil {
				return nil, err
			}
			g["agentgateway"] = map[string]any{"image": ag}
		}
	case ChartCNI:
		g, _ := vals["global"].(map[string]any)
		g["hub"] = targetHub
		cni, err := pin("install-cni")
		if err != nil {
			return nil, err
		}
		vals["image"] = cni
	case ChartZtunnel:
		src := imageRef(req.Hub, "ztunnel", req.Version, req.variant())
		d, err := digestFor(src, digests)
		if err != nil {
			return nil, err
		}
		tag := req.Version
		if v := req.variant(); v != "" {
			tag += "-" + v
		}
		vals["hub"] = targetHub
		vals["variant"] = ""
		vals["tag"] = tag + "@" + d
	}
	return vals, nil
}

// agentgatewaySupported refuses agentgateway before Istio 1.29: the 1.28
// istiod chart ships files/agentgateway.yaml, but its istio-sidecar-injector
// ConfigMap does not load it, so global.agentgateway.image would be ignored
// (and Istio published no agentgateway image for 1.28).
func agentgatewaySupported(version string) error {
	v, err := semver.NewVersion(version)
	if err != nil {
		return fmt.Errorf("istio %s: agentgateway needs Istio 1.29 or later, and %q is not a version", version, version)
	}
	if v.LessThan(semver.MustParse("1.29.0-0")) {
		return fmt.Errorf("istio %s: agentgateway needs Istio 1.29 or later (the %s istiod chart has no agentgateway injection template); drop agentgateway", version, version)
	}
	return nil
}

// KialiPinnedValues returns KialiValues with the kiali-server image pointed at
// registry by digest: deployment.image_name REGISTRY/kiali/kiali,
// image_digest "sha256", image_version the hex (the chart renders
// image_name@sha256:hex). The source image is the chart's
// deployment.image_name with tag v<kialiVersion>.
func KialiPinnedValues(ch *chart.Chart, kialiVersion string, digests map[string]string, registry string) (map[string]any, error) {
	name, _ := lookup(ch.Values, "deployment", "image_name").(string)
	if name == "" {
		return nil, fmt.Errorf("chart %s %s: no deployment.image_name; is this kiali-server?", ch.Name(), ch.Metadata.Version)
	}
	src := name + ":v" + strings.TrimPrefix(kialiVersion, "v")
	d, err := digestFor(src, digests)
	if err != nil {
		return nil, err
	}
	norm, err := manifests.NormalizeImage(src)
	if err != nil {
		return nil, err
	}
	repo, err := manifests.TargetRepository(norm, registry)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deployment": map[string]any{
		"image_name":    repo,
		"image_digest":  "sha256",
		"image_version": strings.TrimPrefix(d, "sha256:"),
	}}, nil
}

// pinnedRef maps an upstream reference to REGISTRY/path@digest.
func pinnedRef(src string, digests map[string]string, registry string) (string, error) {
	d, err := digestFor(src, digests)
	if err != nil {
		return "", err
	}
	repo, err := manifests.TargetRepository(src, registry)
	if err != nil {
		return "", err
	}
	return repo + "@" + d, nil
}

func digestFor(src string, digests map[string]string) (string, error) {
	norm, err := manifests.NormalizeImage(src)
	if err != nil {
		return "", err
	}
	d, ok := digests[norm]
	if !ok {
		d, ok = digests[src]
	}
	if !ok {
		return "", fmt.Errorf("image %s: no digest given; it must be in the lock (resolve again)", norm)
	}
	if !manifests.ValidDigest(d) {
		return "", fmt.Errorf("image %s: digest %q is not sha256:<64 hex>", norm, d)
	}
	return d, nil
}

// targetHubOf maps an image hub ("docker.io/istio") into registry.
func targetHubOf(hub, registry string) (string, error) {
	repo, err := manifests.TargetRepository(strings.TrimRight(hub, "/")+"/x", registry)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(repo, "/x"), nil
}

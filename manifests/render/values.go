package render

import (
	"fmt"
	"strings"
)

// Component (chart) names of an Istio install, as published (istio-facts §2.1).
const (
	ChartBase    = "base"
	ChartIstiod  = "istiod"
	ChartCNI     = "cni"
	ChartZtunnel = "ztunnel"
	ChartGateway = "gateway"
	ChartKiali   = "kiali-server"
)

// Profiles and variants of an IstioRequest.
const (
	ProfileSidecar    = "sidecar"
	ProfileAmbient    = "ambient"
	VariantDefault    = "default"
	VariantDistroless = "distroless"
)

// IstioRequest says which Istio install to render.
type IstioRequest struct {
	// Version is the exact Istio version and image tag, e.g. "1.30.3"; empty
	// keeps the charts' own tag.
	Version string
	// Profile is "sidecar" (default) or "ambient".
	Profile string
	// Variant is "default" (plain tags) or "distroless"; empty is the
	// profile's own choice (sidecar: default, ambient: distroless).
	Variant string
	// Hub is the image hub, e.g. "docker.io/istio"; empty keeps the charts'
	// own hub (registry.istio.io/release in published 1.30.x charts).
	Hub string
	// IngressGateway renders the gateway chart too.
	IngressGateway bool
	// CNI renders the cni chart in sidecar mode (ambient always does).
	CNI bool
	// Agentgateway adds the agentgateway image istiod deploys for the
	// istio-agentgateway GatewayClass (Istio 1.29+).
	Agentgateway bool
	// KubeVersion is the Kubernetes version charts see, e.g. "1.32" or
	// "v1.32.4"; empty is v1.32.0.
	KubeVersion string
}

func (r IstioRequest) ambient() bool { return r.Profile == ProfileAmbient }

// variant returns the effective variant: "" (plain tags) or "distroless".
func (r IstioRequest) variant() string {
	switch r.Variant {
	case VariantDistroless:
		return VariantDistroless
	case VariantDefault:
		return ""
	}
	if r.ambient() {
		return VariantDistroless
	}
	return ""
}

func (r IstioRequest) check() error {
	switch r.Profile {
	case "", ProfileSidecar, ProfileAmbient:
	default:
		return fmt.Errorf("istio profile %q: want sidecar or ambient", r.Profile)
	}
	switch r.Variant {
	case "", VariantDefault, VariantDistroless:
	default:
		return fmt.Errorf("istio variant %q: want default or distroless (render each variant separately)", r.Variant)
	}
	return nil
}

// Charts returns the charts an install renders, in install order: base,
// istiod, cni (ambient, or sidecar with CNI), ztunnel (ambient), gateway
// (IngressGateway).
func (r IstioRequest) Charts() []string {
	out := []string{ChartBase, ChartIstiod}
	if r.ambient() || r.CNI {
		out = append(out, ChartCNI)
	}
	if r.ambient() {
		out = append(out, ChartZtunnel)
	}
	if r.IngressGateway {
		out = append(out, ChartGateway)
	}
	return out
}

// DefaultRelease returns the Helm release name and namespace meshpack uses
// for a chart (the names of the Istio and Kiali install docs).
func DefaultRelease(component string) (name, namespace string) {
	switch component {
	case ChartBase:
		return "istio-base", "istio-system"
	case ChartCNI:
		return "istio-cni", "istio-system"
	case ChartGateway:
		return "istio-ingress", "istio-ingress"
	case ChartKiali:
		return "kiali", "istio-system"
	}
	return component, "istio-system"
}

// ValuesFor returns the values meshpack passes to an Istio chart
// (istio-facts §2.3, §2.4):
//   - istiod and cni: profile (ambient) and global.hub, global.tag,
//     global.variant; istiod also cni.enabled for sidecar+CNI.
//   - ztunnel: profile ambient and top-level hub, tag, variant (the chart
//     reads them flattened). Passing the profile makes ztunnel distroless in
//     ambient, as istioctl and the ambient umbrella chart do.
//   - base and gateway: nothing (the gateway's proxy is injected by istiod).
//
// Variant "default" under ambient sets variant "" explicitly, which
// overrides the profile's global.variant: distroless.
func ValuesFor(component string, req IstioRequest) map[string]any {
	img := map[string]any{}
	if req.Hub != "" {
		img["hub"] = req.Hub
	}
	if req.Version != "" {
		img["tag"] = req.Version
	}
	if req.Variant != "" {
		img["variant"] = req.variant()
	}
	vals := map[string]any{}
	switch component {
	case ChartIstiod, ChartCNI:
		vals["global"] = img
		if req.ambient() {
			vals["profile"] = ProfileAmbient
		}
		if component == ChartIstiod && !req.ambient() && req.CNI {
			vals["cni"] = map[string]any{"enabled": true}
		}
	case ChartZtunnel:
		for k, v := range img {
			vals[k] = v
		}
		vals["profile"] = ProfileAmbient
	}
	return vals
}

// imageRef builds hub/name:tag[-variant] the way the charts and istiod do:
// an empty variant or "default" adds no suffix.
func imageRef(hub, name, tag, variant string) string {
	ref := strings.TrimRight(hub, "/") + "/" + name + ":" + tag
	if variant != "" && variant != VariantDefault {
		ref += "-" + variant
	}
	return ref
}

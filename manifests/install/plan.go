// Package install plans a mesh install from a verified bundle: the Gateway
// API CRDs, then the Istio charts (base, istiod, cni, ztunnel, gateway), the
// Prometheus Kiali reads and kiali-server, each with values that pin every
// image by digest to the internal registry the bundle was loaded into
// (DESIGN.md "Install"). Render
// writes exactly what an install would apply, for GitOps; an install applies
// the same Manifests.
package install

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// Path modes of Options.PathMode: the same mapping as bundle load
// (mirror.PathKeep and mirror.PathFlatten).
const (
	PathKeep    = "keep"
	PathFlatten = "flatten"
)

// Defaults of Options.
const (
	DefaultNamespace = "istio-system"
	// DefaultPrometheusURL is the Prometheus Kiali reads in the default
	// namespace: the one the bundle carries, installed beside Kiali.
	DefaultPrometheusURL = "http://prometheus.istio-system:9090"
	// IngressNamespace is where the ingress gateway is installed, as in
	// Istio's Helm docs.
	IngressNamespace = "istio-ingress"
)

// Step names, in install order (the names of the files Render writes).
const (
	StepCRDs = "gateway-api-crds"
)

// Options say how to install.
type Options struct {
	// Registry is where the bundle was loaded: HOST[:PORT][/PREFIX].
	Registry string
	// PathMode is PathKeep (default: REGISTRY/istio/pilot) or PathFlatten
	// (REGISTRY/istio-pilot), as given to bundle load.
	PathMode string
	// Namespace of the Istio control plane and Kiali; default istio-system.
	Namespace string
	// CNI installs the cni chart in sidecar mode (ambient always does).
	CNI bool
	// PrometheusURL names an existing Prometheus for Kiali to read; the
	// Prometheus the bundle carries is then not installed. Empty means the
	// carried one (http://prometheus.NAMESPACE:9090), else the URL the
	// bundle's spec named, else http://prometheus.NAMESPACE:9090.
	PrometheusURL string
	// KubeVersion is the Kubernetes version charts see ("1.33"); empty is
	// the cluster version the bundle's spec named, else render's default.
	KubeVersion string
	// ImagePullSecret names a Secret every workload (and every injected
	// proxy) pulls with.
	ImagePullSecret string
	// Values are user values per chart, layered over meshpack's; changing
	// a pinned value adds a warning to Plan.Warnings.
	Values UserValues
}

// Step is one thing to apply: the CRD file, or one Helm release.
type Step struct {
	// Name is "gateway-api-crds" or the chart name ("base", "istiod", …).
	Name string
	// Release and Namespace are the Helm release (empty for the CRDs).
	Release   string
	Namespace string
	// Chart and Values are the chart to install and its values (nil for
	// the CRDs).
	Chart  *chart.Chart
	Values map[string]any
	// Manifest is the CRD file as carried in the bundle (CRD step only).
	Manifest []byte
}

// Plan is an install in order.
type Plan struct {
	// Registry is Options.Registry; KubeVersion the version charts see.
	Registry    string
	KubeVersion string
	// Profile is "sidecar" or "ambient"; Istio the version.
	Profile string
	Istio   string
	// Kubernetes is the set's supported Kubernetes minor range.
	Kubernetes manifests.KubernetesRange
	// GatewayAPI and GatewayAPIChannel are the set's Gateway API.
	GatewayAPI        string
	GatewayAPIChannel string
	// Namespace is the control plane's namespace; PathMode how images are
	// laid out below Registry.
	Namespace string
	PathMode  string
	// BundleID identifies the bundle everywhere: "sha256:" + the hex
	// sha256 of its meshpack/bom.json (empty when the source cannot say).
	BundleID string
	// PrometheusURL is the Prometheus Kiali reads ("" without Kiali).
	PrometheusURL string
	Steps         []Step
	// Warnings are user values that change what meshpack set.
	Warnings []string
	// pinned is every image reference the rendered objects may use.
	pinned map[string]bool
}

// NewPlan reads the bundle's BOM and charts and returns the install steps in
// order: Gateway API CRDs, base, istiod, cni (ambient, or Options.CNI),
// ztunnel (ambient), gateway (if the bundle carries it), prometheus (if
// carried, unless Options.PrometheusURL names another), kiali-server (if
// carried, reading that Prometheus). Every image is pinned by the digest the BOM records; an image
// without one fails naming it: there is no fall-back to tags.
func NewPlan(ctx context.Context, src Source, opts Options) (*Plan, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	bom, err := src.BOM()
	if err != nil {
		return nil, err
	}
	c, err := readContents(bom)
	if err != nil {
		return nil, err
	}
	set := c.lock.Set
	if set.Istio == "" {
		return nil, fmt.Errorf("the bundle carries no Istio (lock set istio is empty): nothing to install")
	}
	hub, err := c.hub()
	if err != nil {
		return nil, err
	}
	if opts.KubeVersion == "" {
		opts.KubeVersion = set.ClusterKubernetes // the cluster the spec named, if any
	}
	p := &Plan{
		Registry: opts.Registry, KubeVersion: opts.KubeVersion, Profile: set.Profile, Istio: set.Istio,
		Kubernetes: set.Kubernetes, GatewayAPI: set.GatewayAPI, GatewayAPIChannel: set.GatewayAPIChannel,
		Namespace: opts.Namespace, PathMode: opts.PathMode, pinned: map[string]bool{},
	}
	if id, ok := src.(interface{ BundleID() (string, error) }); ok {
		if p.BundleID, err = id.BundleID(); err != nil {
			return nil, err
		}
	}
	for src, d := range c.digests {
		p.pinned[targetRepo(opts.Registry, c.repos[src], opts.PathMode)+"@"+d] = true
	}
	if a, ok := c.crdFile(); ok {
		data, err := src.File(ctx, a)
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, Step{Name: StepCRDs, Manifest: data})
	} else if set.GatewayAPI != "" {
		return nil, fmt.Errorf("the lock names Gateway API %s but the bundle has no files/gateway-api artifact", set.GatewayAPI)
	}
	req := render.IstioRequest{
		Version: set.Istio, Profile: set.Profile, Hub: hub, KubeVersion: opts.KubeVersion,
		CNI: opts.CNI, Agentgateway: c.lock.Spec.Istio.Agentgateway,
	}
	if len(set.Variants) == 1 {
		req.Variant = set.Variants[0]
	}
	_, req.IngressGateway = c.charts[render.ChartGateway]
	for _, name := range req.Charts() {
		ch, err := chartOf(ctx, src, c, name)
		if err != nil {
			return nil, err
		}
		vals, err := istioValues(name, req, c, opts)
		if err != nil {
			return nil, fmt.Errorf("install plan: %s values (every image is pinned by the digest in the bundle's BOM): %w", name, err)
		}
		rel, ns := releaseOf(name, opts.Namespace)
		p.Steps = append(p.Steps, Step{Name: name, Release: rel, Namespace: ns, Chart: ch, Values: p.userLayer(name, vals, opts)})
	}
	if _, ok := c.charts[render.ChartKiali]; ok && set.Kiali != "" {
		if p.PrometheusURL, err = p.addPrometheus(ctx, src, c, opts); err != nil {
			return nil, err
		}
		ch, err := chartOf(ctx, src, c, render.ChartKiali)
		if err != nil {
			return nil, err
		}
		vals, err := render.KialiPinnedValues(ch, set.Kiali, c.digests, opts.Registry)
		if err != nil {
			return nil, fmt.Errorf("install plan: %s values (every image is pinned by the digest in the bundle's BOM): %w", render.ChartKiali, err)
		}
		vals["external_services"] = map[string]any{"prometheus": map[string]any{"url": p.PrometheusURL}}
		vals = retarget(vals, opts.Registry, opts.PathMode).(map[string]any)
		rel, ns := releaseOf(render.ChartKiali, opts.Namespace)
		p.Steps = append(p.Steps, Step{Name: render.ChartKiali, Release: rel, Namespace: ns, Chart: ch, Values: p.userLayer(render.ChartKiali, vals, opts)})
	}
	return p, nil
}

// userLayer adds the pull secret to a chart's pinned values, then the
// user's values, recording a warning for each pinned value they change.
func (p *Plan) userLayer(chart string, vals map[string]any, opts Options) map[string]any {
	if opts.ImagePullSecret != "" {
		vals = chartutil.MergeTables(pullSecretValues(chart, opts.ImagePullSecret), vals)
	}
	vals, warns := layer(chart, vals, opts.Values[chart])
	p.Warnings = append(p.Warnings, warns...)
	return vals
}

// Pinned returns every image reference the plan's objects may use
// (REGISTRY/…@sha256:…), sorted.
func (p *Plan) Pinned() []string {
	out := make([]string, 0, len(p.pinned))
	for r := range p.pinned {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// IsPinned reports whether image (a tag-plus-digest reference counts by its
// digest) is one of the plan's pinned references.
func (p *Plan) IsPinned(image string) bool { return p.pinned[DigestOnly(image)] }

func (o *Options) defaults() error {
	for chart := range o.Values {
		if err := checkChartName(chart); err != nil {
			return fmt.Errorf("user values: %w", err)
		}
	}
	if o.Registry == "" || strings.Contains(o.Registry, "://") || strings.Contains(o.Registry, "@") {
		return fmt.Errorf("registry %q: want HOST[:PORT][/PREFIX], where the bundle was loaded", o.Registry)
	}
	o.Registry = strings.TrimRight(o.Registry, "/")
	switch o.PathMode {
	case "":
		o.PathMode = PathKeep
	case PathKeep, PathFlatten:
	default:
		return fmt.Errorf("path mode %q: want %s or %s", o.PathMode, PathKeep, PathFlatten)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.PrometheusURL != "" {
		if err := manifests.CheckPrometheusURL(o.PrometheusURL); err != nil {
			return fmt.Errorf("prometheus URL (Options.PrometheusURL): %w", err)
		}
	}
	return nil
}

func chartOf(ctx context.Context, src Source, c *contents, name string) (*chart.Chart, error) {
	a, ok := c.charts[name]
	if !ok {
		return nil, fmt.Errorf("chart %s is not in the bundle", name)
	}
	return src.Chart(ctx, a)
}

// releaseOf returns the Helm release name and namespace of a chart, as
// Istio's and Kiali's Helm docs use them.
func releaseOf(name, namespace string) (string, string) {
	switch name {
	case render.ChartBase:
		return "istio-base", namespace
	case render.ChartCNI:
		return "istio-cni", namespace
	case render.ChartGateway:
		return "istio-ingressgateway", IngressNamespace
	}
	return name, namespace
}

// istioValues are render.PinnedValues (the value paths DESIGN.md "Install"
// verified) retargeted for the path mode, plus the control-plane namespace.
func istioValues(name string, req render.IstioRequest, c *contents, opts Options) (map[string]any, error) {
	vals, err := render.PinnedValues(name, req, c.digests, opts.Registry)
	if err != nil {
		return nil, err
	}
	vals = retarget(vals, opts.Registry, opts.PathMode).(map[string]any)
	switch name {
	case render.ChartBase, render.ChartIstiod, render.ChartCNI:
		g, _ := vals["global"].(map[string]any)
		if g == nil {
			g = map[string]any{}
			vals["global"] = g
		}
		g["istioNamespace"] = opts.Namespace
	case render.ChartZtunnel:
		vals["istioNamespace"] = opts.Namespace
		// The chart (1.28+) uses an image containing "/" whole: the
		// workload then names REGISTRY/istio/ztunnel@sha256:… like every
		// other image. Older charts only know hub + tag (tag@digest), which
		// flatten cannot express (the chart appends /ztunnel to the hub).
		if opts.PathMode == PathFlatten || atLeast(req.Version, 1, 28) {
			if !atLeast(req.Version, 1, 28) {
				return nil, fmt.Errorf("path mode flatten (Options.PathMode) needs Istio 1.28 or later for ztunnel (its chart takes a whole image reference only since 1.28); this bundle has %s: load it with path mode keep", req.Version)
			}
			tag, _ := vals["tag"].(string)
			_, d, _ := strings.Cut(tag, "@")
			src := req.Hub + "/ztunnel"
			vals["image"] = targetRepo(opts.Registry, pathOf(src), opts.PathMode) + "@" + d
		}
	}
	return vals, nil
}

// atLeast reports whether version ("1.30.3") is at least major.minor.
func atLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(strings.TrimPrefix(version, "v"), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// pathOf is the repository path of an image below its registry host
// ("docker.io/istio/ztunnel" -> "istio/ztunnel"), as the BOM records it.
func pathOf(ref string) string {
	_, p, _ := strings.Cut(ref, "/")
	return p
}

// targetRepo maps a BOM repository ("istio/pilot") into registry as bundle
// load pushes it: keep gives REGISTRY/istio/pilot, flatten
// REGISTRY/istio-pilot. This is a copy of the rule of mirror's target.repo
// (mirror/load_target.go, unexported; install does not import mirror): keep
// the two in step.
func targetRepo(registry, repo, mode string) string {
	if mode == PathFlatten {
		repo = strings.ReplaceAll(repo, "/", "-")
	}
	return registry + "/" + repo
}

// retarget rewrites, in flatten mode, every value naming a repository in
// registry (REGISTRY/istio/pilot@sha256:…) to its flattened form. Keep mode
// returns v unchanged: render's values already use the kept paths.
func retarget(v any, registry, mode string) any {
	if mode != PathFlatten {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = retarget(x, registry, mode)
		}
	case []any:
		for i, x := range t {
			t[i] = retarget(x, registry, mode)
		}
	case string:
		rest, ok := strings.CutPrefix(t, registry+"/")
		if !ok {
			return t
		}
		repo, d, hasDigest := strings.Cut(rest, "@")
		out := targetRepo(registry, repo, mode)
		if hasDigest {
			out += "@" + d
		}
		return out
	}
	return v
}

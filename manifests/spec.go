// Package manifests holds what a mesh bundle carries, as data: the embedded
// version catalog, the MeshBundle spec a user writes, and the lock that pins
// it. It is a leaf: no network, no Helm.
package manifests

// APIVersion is the apiVersion of specs and locks.
const APIVersion = "meshpack.lattice.dev/v1alpha1"

// SpecKind is the kind of a spec file.
const SpecKind = "MeshBundle"

// Profiles, variants and channels accepted in a spec.
const (
	ProfileSidecar = "sidecar"
	ProfileAmbient = "ambient"

	VariantDefault    = "default"
	VariantDistroless = "distroless"
	VariantBoth       = "both"

	ChannelStandard     = "standard"
	ChannelExperimental = "experimental"

	// IstioNone as istio.version builds a bundle of extra images only.
	IstioNone = "none"
)

// Spec is a MeshBundle: what the user asks for (`mesh.yaml`). Every field can
// also be set by a CLI flag; flags win over the file.
type Spec struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   SpecMetadata `json:"metadata,omitempty"`
	Istio      IstioSpec    `json:"istio"`
	Kiali      KialiSpec    `json:"kiali,omitempty"`
	GatewayAPI GatewayAPI   `json:"gatewayAPI,omitempty"`
	// Kubernetes describes the target cluster, checked against the set's range.
	Kubernetes KubernetesSpec `json:"kubernetes,omitempty"`
	// Platforms filters image platforms ("linux/amd64"); empty means all.
	Platforms []string `json:"platforms,omitempty"`
	// ExtraImages are any further image references to carry (the user's own
	// workloads); each is resolved to a digest like the mesh images.
	ExtraImages []string `json:"extraImages,omitempty"`
	// ExtraCharts are Helm charts to carry: "REPO_URL/NAME@VERSION" (a
	// classic HTTP repository) or "oci://HOST/PATH/NAME@VERSION". Each is
	// pinned by digest, and the images it renders with its default values
	// (or ExtraChartValues) are carried like ExtraImages.
	ExtraCharts []string `json:"extraCharts,omitempty"`
	// ExtraChartValues maps an extra chart's name to a values file the chart
	// is rendered with when its images are looked for.
	ExtraChartValues map[string]string `json:"extraChartValues,omitempty"`
	// ExtraFiles are files to carry: "URL" (pinned to the sha256 of the
	// download at resolve) or "URL#sha256=HEX" (the download must match).
	ExtraFiles []string `json:"extraFiles,omitempty"`
	// ExtraManifests are Kubernetes YAML manifests to carry (a local path or
	// an http(s) URL); the image of every Pod template in them is carried
	// too.
	ExtraManifests []string `json:"extraManifests,omitempty"`
	// Mirrors redirect upstream hosts, registries and URLs (pull-through caches).
	Mirrors []Mirror `json:"mirrors,omitempty"`
}

// SpecMetadata names a spec.
type SpecMetadata struct {
	Name string `json:"name,omitempty"`
}

// IstioSpec selects the Istio release and data-plane mode.
type IstioSpec struct {
	// Version is a minor ("1.30"), an exact version ("1.30.3") or "none".
	Version string `json:"version"`
	// Profile is "sidecar" (default) or "ambient".
	Profile string `json:"profile,omitempty"`
	// Variant is "default" (plain tags), "distroless" or "both". Empty means
	// the profile's own choice: plain for sidecar, distroless for ambient
	// (Istio's ambient Helm profile sets global.variant=distroless).
	Variant string `json:"variant,omitempty"`
	// IngressGateway adds the gateway chart (its image is the injected proxyv2).
	IngressGateway bool `json:"ingressGateway,omitempty"`
	// CNI adds the cni chart in sidecar mode (ambient always has it).
	CNI bool `json:"cni,omitempty"`
	// Agentgateway adds the optional agentgateway image (Istio 1.29+).
	Agentgateway bool `json:"agentgateway,omitempty"`
	// Istioctl lists the platforms ("linux/amd64", "darwin/arm64") whose
	// istioctl release archive the bundle carries, each pinned by the
	// .sha256 Istio publishes next to it; empty carries none.
	Istioctl []string `json:"istioctl,omitempty"`
}

// KialiSpec turns Kiali on and picks its version.
type KialiSpec struct {
	Enabled bool `json:"enabled,omitempty"`
	// Version is "2.26" or "2.26.0" (a leading "v" is accepted); empty means
	// the catalog's recommended version for the Istio minor.
	Version string `json:"version,omitempty"`
	// PrometheusURL names an existing Prometheus for Kiali to read
	// ("http://prometheus.monitoring:9090"). Empty carries the Prometheus
	// Istio ships for Kiali (samples/addons/prometheus.yaml of the Istio
	// release), which install puts beside Kiali.
	PrometheusURL string `json:"prometheusURL,omitempty"`
}

// GatewayAPI picks the Gateway API CRDs to carry.
type GatewayAPI struct {
	// Enabled defaults to true when Istio is carried; set false to skip the CRDs.
	Enabled *bool `json:"enabled,omitempty"`
	// Version is "v1.5.1" (or "1.5.1"); empty means the catalog's tested version.
	Version string `json:"version,omitempty"`
	// Channel is "standard" (default) or "experimental".
	Channel string `json:"channel,omitempty"`
}

// KubernetesSpec describes the enclave cluster the bundle is for.
type KubernetesSpec struct {
	// Version is the cluster's Kubernetes version ("1.33" or "1.33.4"); when
	// set, a set that does not support it is refused (--allow-unsupported
	// overrides).
	Version string `json:"version,omitempty"`
}

// Mirror redirects every reference or URL that starts with Origin (at a
// path-segment boundary) to Replacement. Origin is a registry host
// ("docker.io"), a repository prefix ("docker.io/istio") or a URL prefix
// ("https://kiali.org/helm-charts"). A Replacement of the form
// "http://host:port/path" for a registry origin means plain HTTP.
type Mirror struct {
	Origin      string `json:"origin"`
	Replacement string `json:"replacement"`
}

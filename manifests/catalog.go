package manifests

import (
	"bytes"
	_ "embed"
	"io"
)

// CatalogKind is the kind of a catalog file.
const CatalogKind = "Catalog"

// When values of an IstioImage: which bundles need the image.
const (
	WhenAlways       = "always"
	WhenCNI          = "cni"     // ambient, or sidecar with istio.cni
	WhenAmbient      = "ambient" // ambient only
	WhenAgentgateway = "agentgateway"
)

// Status values of an IstioRelease.
const (
	StatusSupported = "supported"
	StatusEOL       = "eol"
)

//go:embed catalog/catalog.yaml
var embeddedCatalog []byte

// Catalog is meshpack's knowledge of upstream releases: which Istio, Kiali
// and Gateway API versions exist, where their charts and images live, who
// signs them, and which versions pair. The default is embedded
// (manifests/catalog/catalog.yaml); every fact there cites its source.
type Catalog struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// ImageHub is where Istio images are pulled from for every version,
	// e.g. "docker.io/istio".
	ImageHub string `json:"imageHub"`
	// ImageVariants maps a variant ("default", "distroless") to its tag
	// template; "{version}" is replaced by the Istio version.
	ImageVariants map[string]string `json:"imageVariants"`
	SigningKeys   []SigningKey      `json:"signingKeys"`
	// IstioImages describes each Istio image and when a bundle needs it.
	IstioImages []IstioImage `json:"istioImages"`
	// Istio lists the known minors, oldest first.
	Istio      []IstioRelease    `json:"istio"`
	Kiali      KialiCatalog      `json:"kiali"`
	GatewayAPI GatewayAPICatalog `json:"gatewayAPI"`
	// Istioctl says where istioctl release archives are; nil when the
	// catalog knows none (an older catalog file).
	Istioctl *IstioctlCatalog `json:"istioctl,omitempty"`
	// Prometheus says where the Prometheus Kiali reads comes from; nil
	// when the catalog knows none (an older catalog file).
	Prometheus *PrometheusCatalog `json:"prometheus,omitempty"`
}

// SigningKey is a named upstream cosign public key.
type SigningKey struct {
	Name string `json:"name"`
	// URL is where upstream publishes the key.
	URL string `json:"url"`
	// PublicKey is the PEM; empty when not known in advance, in which case
	// verification needs the key from the user (--upstream-key NAME=FILE).
	PublicKey string `json:"publicKey,omitempty"`
}

// IstioImage is one Istio image name and the bundles that need it.
type IstioImage struct {
	// Name is the repository name under ImageHub, e.g. "pilot".
	Name string `json:"name"`
	// Components that run the image, e.g. ["istiod"].
	Components []string `json:"components"`
	// When is "always", "cni", "ambient" or "agentgateway".
	When string `json:"when"`
}

// IstioRelease is one Istio minor.
type IstioRelease struct {
	// Minor is "1.30".
	Minor string `json:"minor"`
	// Status is "supported" or "eol".
	Status string `json:"status"`
	// Released and EOL are dates (YYYY-MM-DD); EOL is empty when not announced.
	Released string `json:"released,omitempty"`
	EOL      string `json:"eol,omitempty"`
	// Latest is the patch a bare minor resolves to.
	Latest string `json:"latest"`
	// Patches are the known patch versions, ascending.
	Patches    []string        `json:"patches"`
	Kubernetes KubernetesRange `json:"kubernetes"`
	Charts     IstioCharts     `json:"charts"`
	// Images names the IstioImages this minor publishes.
	Images []string `json:"images"`
	// Signing says which key signs the images, per patch range; the first
	// matching entry wins. No match means the images are not known to be signed.
	Signing    []SigningRule     `json:"signing,omitempty"`
	Kiali      KialiPairing      `json:"kiali"`
	GatewayAPI GatewayAPIPairing `json:"gatewayAPI"`
}

// IstioCharts says where an Istio minor's charts are published.
type IstioCharts struct {
	// Names are the published chart names, e.g. base, istiod, cni, ztunnel, gateway.
	Names []string `json:"names"`
	// Hub is the image hub baked into the published charts' values.
	Hub string `json:"hub"`
	// Repos are the places the charts are published, preferred first.
	Repos []ChartRepo `json:"repos"`
}

// ChartRepo is a Helm chart repository, by HTTP and by OCI.
type ChartRepo struct {
	// URL is the HTTP Helm repository (with index.yaml).
	URL string `json:"url"`
	// OCI is the OCI repository prefix, e.g. "oci://gcr.io/istio-release/charts".
	OCI string `json:"oci,omitempty"`
	// Unverified marks a repository no source confirmed for this minor.
	Unverified bool `json:"unverified,omitempty"`
}

// SigningRule names the key that signs a range of patches.
type SigningRule struct {
	// Key is a SigningKey name.
	Key string `json:"key"`
	// Versions is a semver constraint (Masterminds syntax); empty means all.
	Versions string `json:"versions,omitempty"`
}

// KialiPairing is the Kiali side of an Istio minor.
type KialiPairing struct {
	// Recommended is the Kiali version Istio's own addons pin.
	Recommended string `json:"recommended"`
	// Range is the compatible Kiali versions as a semver constraint.
	Range string `json:"range"`
}

// GatewayAPIPairing is the Gateway API side of an Istio minor.
type GatewayAPIPairing struct {
	// Tested is the version Istio builds and tests against (the default).
	Tested string `json:"tested"`
	// Min and Max bound the compatible versions (inclusive); empty is open.
	Min       string `json:"min,omitempty"`
	MinReason string `json:"minReason,omitempty"`
	Max       string `json:"max,omitempty"`
	MaxReason string `json:"maxReason,omitempty"`
	// Channel is the default channel.
	Channel string `json:"channel"`
}

// KialiCatalog says where Kiali comes from.
type KialiCatalog struct {
	// Repo is the HTTP Helm repository, e.g. "https://kiali.org/helm-charts".
	Repo string `json:"repo"`
	// Chart is the chart name, "kiali-server".
	Chart string `json:"chart"`
	// Image is the image repository, "quay.io/kiali/kiali".
	Image string `json:"image"`
	// Tag is the tag template; "{version}" is the Kiali version without "v".
	Tag string `json:"tag"`
	// Charts pins known chart archives by sha256.
	Charts []PinnedVersion `json:"charts,omitempty"`
}

// PinnedVersion is a version with the sha256 of its artifact, when known.
type PinnedVersion struct {
	Version string `json:"version"`
	// Digest is "sha256:<hex>"; empty when not known in advance.
	Digest string `json:"digest,omitempty"`
}

// GatewayAPICatalog says where the Gateway API CRDs come from.
type GatewayAPICatalog struct {
	// AssetURL is the release asset template with "{version}" (with "v") and
	// "{channel}".
	AssetURL string              `json:"assetURL"`
	Channels []string            `json:"channels"`
	Versions []GatewayAPIVersion `json:"versions"`
}

// GatewayAPIVersion is one Gateway API release.
type GatewayAPIVersion struct {
	// Version is "v1.5.1".
	Version string `json:"version"`
	// Files pins the install YAML per channel by sha256, when known.
	Files []ChannelFile `json:"files,omitempty"`
	// KubernetesMin is the oldest Kubernetes minor ("1.30") the release's
	// install YAML applies to, when it has a floor of its own; resolve
	// refuses a target cluster below it. KubernetesMinReason says why.
	KubernetesMin       string `json:"kubernetesMin,omitempty"`
	KubernetesMinReason string `json:"kubernetesMinReason,omitempty"`
}

// ChannelFile is the sha256 of one channel's install YAML.
type ChannelFile struct {
	Channel string `json:"channel"`
	Digest  string `json:"digest"`
}

// DefaultCatalog returns the embedded catalog, validated. Each call returns a
// fresh copy the caller may change.
func DefaultCatalog() (*Catalog, error) {
	c, err := LoadCatalog(bytes.NewReader(embeddedCatalog))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// LoadCatalog reads a catalog strictly (unknown fields rejected with their path
// and line) and validates it.
func LoadCatalog(r io.Reader) (*Catalog, error) {
	var c Catalog
	if err := decodeStrict(r, "catalog", &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

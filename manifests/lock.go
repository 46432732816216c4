package manifests

// LockKind is the kind of a lock file.
const LockKind = "MeshLock"

// Lock pins everything one mesh bundle needs: every image by index and
// per-platform manifest digest, every chart by version and digest, every raw
// file by sha256. It is what `meshpack resolve -o` writes and what
// `meshpack bundle create --lock` rebuilds exactly. Mirrors are not part of
// a lock: sources are always the canonical upstream locations.
type Lock struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Spec is the normalised spec the lock was resolved from (mirrors removed).
	Spec Spec `json:"spec"`
	// Set is the version set the spec resolved to.
	Set ResolvedSet `json:"set"`
	// Images are sorted by Reference.
	Images []LockedImage `json:"images,omitempty"`
	// Charts are sorted by Name.
	Charts []LockedChart `json:"charts,omitempty"`
	// Files are sorted by Name.
	Files []LockedFile `json:"files,omitempty"`
	// Notes are human-readable findings of the resolver (catalog differences,
	// unsupported overrides). They never change what is pinned.
	Notes []string `json:"notes,omitempty"`
}

// ResolvedSet is the exact, mutually compatible version set of a lock.
type ResolvedSet struct {
	// Istio is the exact Istio version, e.g. "1.30.3"; empty when the bundle
	// carries no mesh (spec istio.version "none").
	Istio string `json:"istio,omitempty"`
	// Profile is "sidecar" or "ambient".
	Profile string `json:"profile,omitempty"`
	// Variants are the image variants carried: "default" and/or "distroless".
	Variants []string `json:"variants,omitempty"`
	// Kiali is the exact Kiali version without "v", e.g. "2.26.0"; empty if off.
	Kiali string `json:"kiali,omitempty"`
	// GatewayAPI is the Gateway API version with "v", e.g. "v1.5.1"; empty if off.
	GatewayAPI string `json:"gatewayAPI,omitempty"`
	// GatewayAPIChannel is "standard" or "experimental".
	GatewayAPIChannel string `json:"gatewayAPIChannel,omitempty"`
	// Kubernetes is the supported Kubernetes minor range of the set.
	Kubernetes KubernetesRange `json:"kubernetes,omitempty"`
	// ClusterKubernetes is the target cluster version the spec named, if any.
	ClusterKubernetes string `json:"clusterKubernetes,omitempty"`
	// Unsupported is true when a compatibility rule was explicitly overridden
	// (resolve.Options.AllowUnsupported).
	Unsupported bool `json:"unsupported,omitempty"`
	// ResolvedFrom records how the Istio patch was chosen; nil in locks
	// written before meshpack recorded it.
	ResolvedFrom *IstioChoice `json:"resolvedFrom,omitempty"`
}

// Sources of an IstioChoice.
const (
	// IstioFromExact: the spec named the exact version.
	IstioFromExact = "exact"
	// IstioFromCatalog: the catalog's newest patch of the minor.
	IstioFromCatalog = "catalog"
	// IstioFromUpstream: the newest patch upstream publishes completely,
	// read from the Istio chart index and the image tags.
	IstioFromUpstream = "upstream"
)

// IstioChoice records where a lock's Istio patch came from and why.
type IstioChoice struct {
	// Requested is what the spec asked for: "1.30" or "1.30.3".
	Requested string `json:"requested"`
	// Source is "exact", "catalog" or "upstream" (chart index + image tags).
	Source string `json:"source"`
	// Reason says in one sentence why this patch was chosen.
	Reason string `json:"reason"`
	// CatalogLatest is the catalog's newest patch of the minor, if any.
	CatalogLatest string `json:"catalogLatest,omitempty"`
	// ChartIndex is the Helm repository index read (upstream only).
	ChartIndex string `json:"chartIndex,omitempty"`
	// ImageRepositories are the repositories whose tags were read (upstream only).
	ImageRepositories []string `json:"imageRepositories,omitempty"`
	// Published lists the minor's patches the chart index has, ascending
	// (upstream only; pre-releases are never chosen and not listed).
	Published []string `json:"published,omitempty"`
	// Skipped lists each published patch newer than the choice with why it
	// was not chosen, e.g. "1.30.5: no image tag docker.io/istio/pilot:1.30.5".
	Skipped []string `json:"skipped,omitempty"`
}

// KubernetesRange is an inclusive range of Kubernetes minors ("1.32".."1.36").
type KubernetesRange struct {
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
}

// LockedImage is one image pinned by digest.
type LockedImage struct {
	// Name is the short image name, e.g. "pilot", "proxyv2", "kiali".
	Name string `json:"name"`
	// Reference is the canonical upstream reference with tag,
	// e.g. "docker.io/istio/pilot:1.30.3-distroless".
	Reference string `json:"reference"`
	// Digest is the digest Reference resolved to (an index for multi-arch
	// images, else a manifest).
	Digest string `json:"digest"`
	// MediaType is the media type of the manifest or index at Digest.
	MediaType string `json:"mediaType"`
	// Size is the byte size of the manifest or index at Digest.
	Size int64 `json:"size"`
	// Platforms lists each platform manifest of an index (all of them, even
	// those a platform filter later drops), or the single manifest.
	Platforms []LockedPlatform `json:"platforms,omitempty"`
	// Components names what needs the image: "istiod", "sidecar-injector",
	// "gateway", "waypoint", "cni", "ztunnel", "kiali", "extra".
	Components []string `json:"components,omitempty"`
	// SignedBy names the catalog signing key upstream signs this image with
	// (e.g. "istio-release"); empty when upstream does not sign it.
	SignedBy string `json:"signedBy,omitempty"`
}

// LockedPlatform is one platform manifest of an image.
type LockedPlatform struct {
	// Platform is "os/arch[/variant]".
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType,omitempty"`
	Size      int64  `json:"size"`
}

// LockedChart is one Helm chart pinned by digest.
type LockedChart struct {
	// Name is the chart name, e.g. "istiod", "kiali-server".
	Name    string `json:"name"`
	Version string `json:"version"`
	// Source is where the chart is fetched from: an https URL of the .tgz
	// (HTTP repo) or "oci://host/path/name:version".
	Source string `json:"source"`
	// Digest is the sha256 of the .tgz for an HTTP source, or the OCI manifest
	// digest for an oci:// source.
	Digest string `json:"digest"`
	// ContentDigest is the sha256 of the chart .tgz (the layer of the OCI chart
	// artifact); equal to Digest for HTTP sources.
	ContentDigest string `json:"contentDigest"`
	// Size is the byte size of the .tgz.
	Size int64 `json:"size"`
	// Pinned says where Digest came from: "catalog" (sha256 known in advance and
	// checked), "repo-index" (the Helm repo index.yaml digest, checked),
	// or "resolved" (trust on first use at resolve time).
	Pinned string `json:"pinned,omitempty"`
}

// LockedFile is one raw file (e.g. the Gateway API install YAML) pinned by sha256.
type LockedFile struct {
	// Name is the file name, e.g. "standard-install.yaml".
	Name string `json:"name"`
	// Component groups files, e.g. "gateway-api".
	Component string `json:"component,omitempty"`
	// Version is the upstream version of the file, e.g. "v1.5.1".
	Version   string `json:"version,omitempty"`
	Source    string `json:"source"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType,omitempty"`
	// Pinned: "catalog", "resolved" as for charts, or "upstream-sha256"
	// (the checksum file upstream publishes next to the file, checked).
	Pinned string `json:"pinned,omitempty"`
	// Platform is the "os/arch" a platform-specific file (a release
	// archive of a program) is for; empty for any platform.
	Platform string `json:"platform,omitempty"`
	// Executable is the path, inside the file's tar.gz archive, of the
	// program `bundle extract` writes out (e.g. "istioctl"); empty when
	// the file is used as it is.
	Executable string `json:"executable,omitempty"`
}

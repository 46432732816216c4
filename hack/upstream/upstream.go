// Package upstream runs an offline stand-in for the internet that meshpack
// pulls from: Docker Hub, Quay and GCR images under their real names, the
// Istio and Kiali Helm repositories, and the Gateway API release assets, all
// on 127.0.0.1. Tests, the demo and the benchmarks point meshpack at it with
// the --mirror arguments from Mirrors.
//
// Images are generated, deterministic fixtures (same Options, same
// digests): multi-platform OCI indexes with realistic layer sharing and
// compressibility. Charts and CRDs are the real upstream files from
// testdata/, packaged as the upstream release processes do.
package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

// Options configures Start. The zero value serves Istio 1.30.3, Kiali
// 2.26.0 and Gateway API v1.5.1 with a few MiB per image, from memory.
type Options struct {
	// IstioVersions to publish; default ["1.30.3"]. Charts for versions
	// other than 1.30.3 are the 1.30.3 sources stamped to that version.
	IstioVersions []string
	// KialiVersions of quay.io/kiali/kiali to publish, "2.26.0" or
	// "v2.26.0"; default ["2.26.0"]. The Kiali Helm repo is served verbatim
	// and only has the kiali-server-2.26.0.tgz package.
	KialiVersions []string
	// GatewayAPIVersions to serve install files for; default ["v1.5.1"].
	GatewayAPIVersions []string
	// Platforms, when set, replaces every image's platform list ("os/arch"
	// or "os/arch/variant"). Default: Istio and extra images linux/amd64 and
	// linux/arm64; Kiali also linux/s390x and linux/ppc64le.
	Platforms []string
	// LayerScale multiplies layer sizes; default 1 (2-4 MiB per image).
	LayerScale float64
	// TotalSize, when positive, overrides LayerScale so that the unique
	// blobs in the registry total about this many bytes (gzip-compressed).
	TotalSize int64
	// Seed varies the generated content; default 0.
	Seed int64
	// RegistryRoot is the registry's storage directory. "" keeps small
	// workloads in memory and puts large ones (any layer over 16 MiB, e.g.
	// with TotalSize 1GiB) in a temporary directory below TempDir that
	// Close removes: Distribution's in-memory driver is quadratic in blob
	// size.
	RegistryRoot string
	// ExtraImages are more images to publish, such as workloads for tests:
	// "docker.io/library/app:1" (Docker Hub short names are expanded).
	ExtraImages []string
	// Sign, if set, is called after each Istio image index and each of its
	// platform manifests is pushed, with the fixture repository
	// ("127.0.0.1:port/docker.io/istio/pilot", plain HTTP) and descriptor, so
	// that a signer can attach signatures the way upstream does.
	Sign func(ctx context.Context, repo string, desc ocispec.Descriptor) error
	// Testdata is meshpack's testdata directory; default: the nearest
	// "testdata" with charts/istio-1.30.3, searching up from the working
	// directory.
	Testdata string
	// TempDir holds layers while they are generated; default os.TempDir().
	TempDir string
	// Logger receives progress and registry lines; nil discards.
	Logger *slog.Logger
}

// ImageInfo is one published image reference.
type ImageInfo struct {
	// Reference is the upstream name, e.g. "docker.io/istio/pilot:1.30.3".
	Reference string `json:"reference"`
	// Repository is the upstream repository, e.g. "docker.io/istio/pilot";
	// on the fixture registry it lives at that path.
	Repository string `json:"repository"`
	// Tag of the reference.
	Tag string `json:"tag"`
	// MediaType, Digest and Size describe the image index.
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	// Platforms are the index's image manifests.
	Platforms []PlatformManifest `json:"platforms"`
	// Signed marks images upstream signs (Istio's); Options.Sign saw them.
	Signed bool `json:"signed"`
	// SBOMReferrer is the digest of the SBOM upstream attached to the
	// index as an OCI referrer (artifactType SBOMArtifactType); only the
	// Kiali image has one.
	SBOMReferrer digest.Digest `json:"sbomReferrer,omitempty"`
}

// PlatformManifest is one platform's image manifest in an index.
type PlatformManifest struct {
	Platform string        `json:"platform"` // "linux/amd64"
	Digest   digest.Digest `json:"digest"`
	Size     int64         `json:"size"`
}

// ChartInfo is one published Helm chart package.
type ChartInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// URL is the upstream download URL as the repo index lists it.
	URL string `json:"url"`
	// LocalURL serves the same bytes from the fixture.
	LocalURL string `json:"localURL"`
	// Digest is the sha256 of the .tgz (the index's digest, with prefix).
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
	// OCIReference and OCIDigest locate the chart as a Helm OCI artifact
	// (upstream name; the manifest digest), when published as one.
	OCIReference string        `json:"ociReference,omitempty"`
	OCIDigest    digest.Digest `json:"ociDigest,omitempty"`
}

// FileInfo is one published raw file (Gateway API install YAML, an
// istioctl release archive, whose checksum file is at URL+".sha256").
type FileInfo struct {
	Name     string        `json:"name"` // "standard-install.yaml"
	Version  string        `json:"version"`
	Platform string        `json:"platform,omitempty"` // istioctl: "linux/amd64"
	URL      string        `json:"url"`
	LocalURL string        `json:"localURL"`
	Digest   digest.Digest `json:"digest"`
	Size     int64         `json:"size"`
}

// Stats summarises the generated registry content.
type Stats struct {
	// Layers is the number of unique layers; LayerBytes their gzip size and
	// RawBytes their tar size.
	Layers     int   `json:"layers"`
	LayerBytes int64 `json:"layerBytes"`
	RawBytes   int64 `json:"rawBytes"`
	// Seeding is how long generating and pushing took.
	Seeding time.Duration `json:"seedingNanos"`
}

// Upstream is a running fixture upstream. Close it when done.
type Upstream struct {
	regHost  string
	httpBase string
	hosts    []string

	images []ImageInfo
	charts []ChartInfo
	files  []FileInfo
	stats  Stats

	reg      *registry.Server
	tempRoot string // registry storage Close removes, if any
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errMu    sync.Mutex
	errs     []error
}

// withDefaults fills in the documented defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.IstioVersions) == 0 {
		o.IstioVersions = []string{"1.30.3"}
	}
	if len(o.KialiVersions) == 0 {
		o.KialiVersions = []string{"2.26.0"}
	}
	if len(o.GatewayAPIVersions) == 0 {
		o.GatewayAPIVersions = []string{gatewayAPISource}
	}
	if o.LayerScale == 0 {
		o.LayerScale = 1
	}
	if o.LayerScale < 0 {
		return o, fmt.Errorf("upstream: layer scale %g: want a positive factor", o.LayerScale)
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Testdata == "" {
		td, err := findTestdata()
		if err != nil {
			return o, err
		}
		o.Testdata = td
	}
	return o, nil
}

// findTestdata looks for testdata/charts/istio-1.30.3 in the working
// directory and its parents.
func findTestdata() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("upstream: find testdata: %w", err)
	}
	for {
		td := filepath.Join(dir, "testdata")
		if _, err := os.Stat(filepath.Join(td, "charts", "istio-1.30.3")); err == nil {
			return td, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("upstream: no testdata/charts/istio-1.30.3 above the working directory; set Options.Testdata")
		}
		dir = parent
	}
}

// Close stops both servers and releases the registry (and its in-memory
// content).
func (u *Upstream) Close() error {
	u.cancel()
	u.wg.Wait()
	err := u.reg.Close()
	u.errMu.Lock()
	defer u.errMu.Unlock()
	if err != nil {
		u.errs = append(u.errs, err)
	}
	if u.tempRoot != "" {
		if err := os.RemoveAll(u.tempRoot); err != nil {
			u.errs = append(u.errs, err)
		}
		u.tempRoot = ""
	}
	if len(u.errs) > 0 {
		return fmt.Errorf("upstream: close: %v", u.errs)
	}
	return nil
}

// RegistryHost is the fixture registry's host:port (plain HTTP).
func (u *Upstream) RegistryHost() string { return u.regHost }

// BaseURL is the fixture HTTP server's base URL ("http://127.0.0.1:port").
func (u *Upstream) BaseURL() string { return u.httpBase }

// Mirrors returns the --mirror ORIGIN=REPLACEMENT arguments that redirect
// every upstream location the fixture serves to it, sorted.
func (u *Upstream) Mirrors() []string {
	var m []string
	for _, h := range u.hosts {
		m = append(m, h+"=http://"+u.regHost+"/"+h)
	}
	m = append(m,
		istioChartRepo+"="+u.httpBase+"/istio-release/charts",
		kialiChartRepo+"="+u.httpBase+"/kiali/helm-charts",
		gatewayAPIRelease+"="+u.httpBase+"/kubernetes-sigs/gateway-api/releases/download",
		istioRelease+"="+u.httpBase+"/istio/istio/releases/download",
		istioRaw+"="+u.httpBase+"/istio/istio",
		UserSite+"="+u.httpBase+"/downloads.example.com",
	)
	sort.Strings(m)
	return m
}

// Images returns every published image reference, in publishing order.
func (u *Upstream) Images() []ImageInfo { return append([]ImageInfo(nil), u.images...) }

// Image returns the image published as ref ("docker.io/istio/pilot:1.30.3").
func (u *Upstream) Image(ref string) (ImageInfo, bool) {
	for _, im := range u.images {
		if im.Reference == ref {
			return im, true
		}
	}
	return ImageInfo{}, false
}

// Charts returns every published chart package.
func (u *Upstream) Charts() []ChartInfo { return append([]ChartInfo(nil), u.charts...) }

// Files returns every published raw file.
func (u *Upstream) Files() []FileInfo { return append([]FileInfo(nil), u.files...) }

// Stats describes the generated content.
func (u *Upstream) Stats() Stats { return u.stats }

// serveErr records an error of a background server.
func (u *Upstream) serveErr(err error) {
	if err == nil {
		return
	}
	u.errMu.Lock()
	u.errs = append(u.errs, err)
	u.errMu.Unlock()
}

// listen opens a 127.0.0.1 listener on a random port.
func listen(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("upstream: listen on 127.0.0.1: %w", err)
	}
	return ln, nil
}

package upstream

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Nominal uncompressed sizes at LayerScale 1; gzip makes them ~2.3x smaller,
// so an image is 2-4 MiB. Small text layers do not scale.
const (
	debianBaseSize     = 4 << 20
	distrolessBaseSize = 3 << 19 // 1.5 MiB
	appUnitSize        = 2 << 20
	filesLayerSize     = 64 << 10
	// sharedAppShare is the part of an Istio image's application bytes
	// that the patches of one minor share.
	sharedAppShare = 0.88
	// ratioEstimate slightly overestimates the measured gzip ratio, so
	// that TotalSize is reached rather than missed.
	ratioEstimate = 2.25
)

// istioImage is one image Istio publishes per version.
type istioImage struct {
	name, binary string
	weight       float64 // app layer size in appUnitSize units
	since        string  // first minor that ships it; "" = always
}

var istioImages = []istioImage{
	{name: "pilot", binary: "usr/local/bin/pilot-discovery", weight: 1.5},
	{name: "proxyv2", binary: "usr/local/bin/envoy", weight: 2},
	{name: "install-cni", binary: "usr/local/bin/install-cni", weight: 1},
	{name: "ztunnel", binary: "usr/local/bin/ztunnel", weight: 1},
	{name: "agentgateway", binary: "usr/bin/agentgateway", weight: 1, since: "1.29"},
}

var (
	istioPlatforms = []string{"linux/amd64", "linux/arm64"}
	kialiPlatforms = []string{"linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le"}
)

// imagePlan is one multi-platform image published under some tags in one
// or more repositories (paths below the fixture registry, e.g.
// "docker.io/istio/pilot").
type imagePlan struct {
	repos     []string
	tags      []string
	signed    bool // upstream signs it: the Sign hook sees it
	entry     []string
	platforms []platformPlan
}

// platformPlan is one platform manifest of an image.
type platformPlan struct {
	platform ocispec.Platform
	layers   []*layerSpec
}

// planner builds image plans and deduplicates their layers.
type planner struct {
	opts   Options
	layers map[string]*layerSpec
	order  []*layerSpec
	images []*imagePlan
}

// layer returns the shared spec for key, creating it on first use, and
// records that repos reference it.
func (p *planner) layer(key string, kind layerKind, size float64, bin string, repos []string) *layerSpec {
	l, ok := p.layers[key]
	if !ok {
		// ±10% per layer, so images are not all alike.
		h := sha256.Sum256([]byte(key))
		jitter := 0.9 + 0.2*float64(binary.BigEndian.Uint16(h[:2]))/65535
		l = &layerSpec{key: key, kind: kind, size: int64(size * jitter), binary: bin}
		p.layers[key] = l
		p.order = append(p.order, l)
	}
	for _, r := range repos {
		if !slices.Contains(l.repos, r) {
			l.repos = append(l.repos, r)
		}
	}
	return l
}

// base returns the base layer shared by every image of flavor ("debian" or
// "distroless") on platform.
func (p *planner) base(flavor, platform string, scale float64, repos []string) *layerSpec {
	kind, size := kindDebianBase, float64(debianBaseSize)
	if flavor == "distroless" {
		kind, size = kindDistrolessBase, distrolessBaseSize
	}
	return p.layer("base/"+flavor+"/"+platform, kind, size*scale, "", repos)
}

// plan lays out every image of opts at the given scale.
func plan(opts Options, scale float64) (*planner, error) {
	p := &planner{opts: opts, layers: map[string]*layerSpec{}}
	for _, v := range opts.IstioVersions {
		if err := p.istio(v, scale); err != nil {
			return nil, err
		}
	}
	if err := p.kiali(opts.KialiVersions, scale); err != nil {
		return nil, err
	}
	if err := p.prometheus(scale); err != nil {
		return nil, err
	}
	for _, ref := range opts.ExtraImages {
		if err := p.extra(ref, scale); err != nil {
			return nil, err
		}
	}
	if err := p.user(scale); err != nil {
		return nil, err
	}
	return p, nil
}

// platformsOr returns the platforms option or def.
func (p *planner) platformsOr(def []string) []string {
	if len(p.opts.Platforms) > 0 {
		return p.opts.Platforms
	}
	return def
}

// istio plans the images of Istio version v: for each image a default
// variant (tags V and V-debug, as upstream tags the same build twice) on the
// debian base and a distroless one (V-distroless), sharing the app layer.
func (p *planner) istio(v string, scale float64) error {
	ver, err := semver.StrictNewVersion(v)
	if err != nil {
		return fmt.Errorf("istio version %q: want X.Y.Z: %w", v, err)
	}
	for _, img := range istioImages {
		if img.since != "" && ver.LessThan(semver.MustParse(img.since+".0")) {
			continue
		}
		repos := []string{"docker.io/istio/" + img.name}
		if hub := releaseHub(ver); hub != "docker.io/istio" {
			repos = append(repos, hub+"/"+img.name)
		}
		for _, variant := range []string{"debian", "distroless"} {
			ip := &imagePlan{repos: repos, signed: true, entry: []string{"/" + img.binary}}
			if variant == "debian" {
				ip.tags = []string{v, v + "-debug"}
			} else {
				ip.tags = []string{v + "-distroless"}
			}
			for _, plat := range p.platformsOr(istioPlatforms) {
				pp, err := platformOf(plat)
				if err != nil {
					return err
				}
				// The application is two layers: what the minor's patches
				// share (runtime libraries, ~88 %) and the patch's own
				// binaries and files, so the next patch of a minor differs
				// in roughly a tenth of its layer bytes, as a real Istio
				// patch does (new application layers, same bases).
				minor := fmt.Sprintf("%d.%d", ver.Major(), ver.Minor())
				weight := img.weight * appUnitSize * scale
				ip.platforms = append(ip.platforms, platformPlan{platform: pp, layers: []*layerSpec{
					p.base(variant, plat, scale, repos),
					p.layer("runtime/istio/"+img.name+"/"+minor+"/"+plat, kindApp, weight*sharedAppShare, "usr/lib/istio/"+img.name+"-runtime.so", repos),
					p.layer("app/istio/"+img.name+"/"+v+"/"+plat, kindApp, weight*(1-sharedAppShare), img.binary, repos),
					p.layer("files/istio/"+img.name+"/"+minor+"/"+variant+"/"+plat, kindFiles, filesLayerSize, "", repos),
				}})
			}
			p.images = append(p.images, ip)
		}
	}
	return nil
}

// kiali plans quay.io/kiali/kiali for each version, tagged vX.Y.Z, and vX.Y
// on the newest patch of each minor.
func (p *planner) kiali(versions []string, scale float64) error {
	newest := map[string]*semver.Version{}
	parsed := make([]*semver.Version, 0, len(versions))
	for _, v := range versions {
		ver, err := semver.NewVersion(strings.TrimPrefix(v, "v"))
		if err != nil {
			return fmt.Errorf("kiali version %q: want vX.Y.Z: %w", v, err)
		}
		parsed = append(parsed, ver)
		minor := fmt.Sprintf("v%d.%d", ver.Major(), ver.Minor())
		if cur, ok := newest[minor]; !ok || ver.GreaterThan(cur) {
			newest[minor] = ver
		}
	}
	repos := []string{"quay.io/kiali/kiali"}
	for _, ver := range parsed {
		tag := "v" + ver.String()
		ip := &imagePlan{repos: repos, tags: []string{tag}, entry: []string{"/opt/kiali/kiali"}}
		if minor := fmt.Sprintf("v%d.%d", ver.Major(), ver.Minor()); newest[minor].Equal(ver) {
			ip.tags = append(ip.tags, minor)
		}
		for _, plat := range p.platformsOr(kialiPlatforms) {
			pp, err := platformOf(plat)
			if err != nil {
				return err
			}
			ip.platforms = append(ip.platforms, platformPlan{platform: pp, layers: []*layerSpec{
				p.base("distroless", plat, scale, repos),
				p.layer("app/kiali/"+tag+"/"+plat, kindApp, 1.5*appUnitSize*scale, "opt/kiali/kiali", repos),
				p.layer("files/kiali/"+tag+"/"+plat, kindFiles, filesLayerSize, "", repos),
			}})
		}
		p.images = append(p.images, ip)
	}
	return nil
}

// extra plans a workload image such as "docker.io/library/app:1".
func (p *planner) extra(ref string, scale float64) error {
	repo, tag, err := splitRef(ref)
	if err != nil {
		return err
	}
	repos := []string{repo}
	ip := &imagePlan{repos: repos, tags: []string{tag}, entry: []string{"/usr/local/bin/app"}}
	for _, plat := range p.platformsOr(istioPlatforms) {
		pp, err := platformOf(plat)
		if err != nil {
			return err
		}
		ip.platforms = append(ip.platforms, platformPlan{platform: pp, layers: []*layerSpec{
			p.base("debian", plat, scale, repos),
			p.layer("app/extra/"+repo+":"+tag+"/"+plat, kindApp, 0.5*appUnitSize*scale, "usr/local/bin/app", repos),
		}})
	}
	p.images = append(p.images, ip)
	return nil
}

// releaseHub is the hub Istio's release build stamps into the charts of
// version v: registry.istio.io/release for 1.30.x, docker.io/istio otherwise
// (istio-facts §2.2).
func releaseHub(v *semver.Version) string {
	if v.Major() == 1 && v.Minor() == 30 {
		return "registry.istio.io/release"
	}
	return "docker.io/istio"
}

// platformOf parses "os/arch[/variant]".
func platformOf(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/arm64", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// platformString renders p as "os/arch[/variant]".
func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// splitRef splits "host/path:tag" into repository and tag, normalising
// Docker Hub short names ("app:1" is "docker.io/library/app:1").
func splitRef(ref string) (repo, tag string, err error) {
	if ref == "" || strings.Contains(ref, "@") {
		return "", "", fmt.Errorf("extra image %q: want [host/]path[:tag], without a digest", ref)
	}
	repo, tag = ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	first, _, hasSlash := strings.Cut(repo, "/")
	if !hasSlash {
		repo = "docker.io/library/" + repo
	} else if !strings.ContainsAny(first, ".:") && first != "localhost" {
		repo = "docker.io/" + repo
	}
	if tag == "" || strings.ToLower(repo) != repo {
		return "", "", fmt.Errorf("extra image %q: want a lowercase repository and a non-empty tag", ref)
	}
	return repo, tag, nil
}

// scaleFor returns the LayerScale at which the unique blobs of opts total
// about want bytes after gzip.
func scaleFor(opts Options, want int64) (float64, error) {
	p, err := plan(opts, 1)
	if err != nil {
		return 0, err
	}
	var scaled, fixed float64
	for _, l := range p.order {
		if l.kind == kindFiles {
			fixed += float64(l.size)
		} else {
			scaled += float64(l.size)
		}
	}
	if scaled == 0 {
		return 1, nil
	}
	return max(0.01, (float64(want)*ratioEstimate-fixed)/scaled), nil
}

// hosts returns the registry hosts (first path element) of the plan's
// repositories, sorted.
func (p *planner) hosts() []string {
	set := map[string]bool{}
	for _, ip := range p.images {
		for _, r := range ip.repos {
			host, _, _ := strings.Cut(r, "/")
			set[host] = true
		}
	}
	out := make([]string, 0, len(set))
	for h := range set {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

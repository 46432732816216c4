package manifests

import (
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Validate checks the catalog's internal consistency: unique names, versions
// that parse, latest among patches, recommended versions inside their ranges,
// references to known keys and images, and digests in sha256 form.
func (c *Catalog) Validate() error {
	var p problems
	if c.APIVersion != APIVersion {
		p.add("apiVersion", 0, "%q is not %s", c.APIVersion, APIVersion)
	}
	if c.Kind != CatalogKind {
		p.add("kind", 0, "%q is not %s", c.Kind, CatalogKind)
	}
	if _, err := NormalizeImage(c.ImageHub + "/x"); err != nil || c.ImageHub == "" {
		p.add("imageHub", 0, "%q is not a registry repository prefix like docker.io/istio", c.ImageHub)
	}
	for _, v := range []string{VariantDefault, VariantDistroless} {
		if !strings.Contains(c.ImageVariants[v], "{version}") {
			p.add(joinPath("imageVariants", v), 0, "want a tag template containing {version}")
		}
	}
	keys := map[string]bool{}
	for i, k := range c.SigningKeys {
		at := indexPath("signingKeys", i)
		if k.Name == "" || keys[k.Name] {
			p.add(joinPath(at, "name"), 0, "%q is empty or duplicated", k.Name)
		}
		keys[k.Name] = true
		if !strings.HasPrefix(k.URL, "https://") {
			p.add(joinPath(at, "url"), 0, "%q is not an https URL", k.URL)
		}
		if k.PublicKey != "" {
			if b, _ := pem.Decode([]byte(k.PublicKey)); b == nil || b.Type != "PUBLIC KEY" {
				p.add(joinPath(at, "publicKey"), 0, "not a PEM \"PUBLIC KEY\" block")
			}
		}
	}
	images := map[string]bool{}
	for i, img := range c.IstioImages {
		at := indexPath("istioImages", i)
		if img.Name == "" || images[img.Name] {
			p.add(joinPath(at, "name"), 0, "%q is empty or duplicated", img.Name)
		}
		images[img.Name] = true
		switch img.When {
		case WhenAlways, WhenCNI, WhenAmbient, WhenAgentgateway:
		default:
			p.add(joinPath(at, "when"), 0, "%q is not one of always, cni, ambient, agentgateway", img.When)
		}
	}
	minors := map[string]bool{}
	for i := range c.Istio {
		at := indexPath("istio", i)
		r := &c.Istio[i]
		if minors[r.Minor] {
			p.add(joinPath(at, "minor"), 0, "%q is duplicated", r.Minor)
		}
		minors[r.Minor] = true
		r.validate(&p, at, keys, images)
		c.validateKiali(&p, joinPath(at, "kiali"), r.Kiali)
		c.validateGatewayPairing(&p, joinPath(at, "gatewayAPI"), r.GatewayAPI)
	}
	c.validateSources(&p)
	c.validateIstioctl(&p)
	c.validatePrometheus(&p)
	return p.err("catalog")
}

func (r *IstioRelease) validate(p *problems, at string, keys, images map[string]bool) {
	if !minorPattern.MatchString(r.Minor) || strings.HasPrefix(r.Minor, "v") {
		p.add(joinPath(at, "minor"), 0, "%q is not a minor like 1.30", r.Minor)
	}
	if r.Status != StatusSupported && r.Status != StatusEOL {
		p.add(joinPath(at, "status"), 0, "%q is not one of supported, eol", r.Status)
	}
	for _, d := range []struct{ field, value string }{{"released", r.Released}, {"eol", r.EOL}} {
		if _, err := time.Parse(time.DateOnly, d.value); d.value != "" && err != nil {
			p.add(joinPath(at, d.field), 0, "%q is not a date like 2026-05-14", d.value)
		}
	}
	var prev *semver.Version
	for j, v := range r.Patches {
		sv, err := semver.StrictNewVersion(v)
		if err != nil || minorOf(v) != r.Minor {
			p.add(indexPath(joinPath(at, "patches"), j), 0, "%q is not a %s patch version", v, r.Minor)
			continue
		}
		if prev != nil && !sv.GreaterThan(prev) {
			p.add(indexPath(joinPath(at, "patches"), j), 0, "%q is out of order; patches ascend", v)
		}
		prev = sv
	}
	if !slices.Contains(r.Patches, r.Latest) {
		p.add(joinPath(at, "latest"), 0, "%q is not among the patches", r.Latest)
	}
	if err := checkKubeMinor(r.Kubernetes.Min); err != nil {
		p.add(joinPath(at, "kubernetes.min"), 0, "%v", err)
	}
	if err := checkKubeMinor(r.Kubernetes.Max); err != nil {
		p.add(joinPath(at, "kubernetes.max"), 0, "%v", err)
	}
	if len(r.Charts.Names) == 0 {
		p.add(joinPath(at, "charts.names"), 0, "required")
	}
	if _, err := NormalizeImage(r.Charts.Hub + "/x"); err != nil || r.Charts.Hub == "" {
		p.add(joinPath(at, "charts.hub"), 0, "%q is not a registry repository prefix", r.Charts.Hub)
	}
	if len(r.Charts.Repos) == 0 {
		p.add(joinPath(at, "charts.repos"), 0, "required")
	}
	for j, repo := range r.Charts.Repos {
		rp := indexPath(joinPath(at, "charts.repos"), j)
		if !strings.HasPrefix(repo.URL, "https://") {
			p.add(joinPath(rp, "url"), 0, "%q is not an https URL", repo.URL)
		}
		if repo.OCI != "" && !strings.HasPrefix(repo.OCI, "oci://") {
			p.add(joinPath(rp, "oci"), 0, "%q is not an oci:// reference", repo.OCI)
		}
	}
	for j, name := range r.Images {
		if !images[name] {
			p.add(indexPath(joinPath(at, "images"), j), 0, "%q is not in istioImages", name)
		}
	}
	for j, s := range r.Signing {
		sp := indexPath(joinPath(at, "signing"), j)
		if !keys[s.Key] {
			p.add(joinPath(sp, "key"), 0, "%q is not in signingKeys", s.Key)
		}
		if _, err := semver.NewConstraint(orAny(s.Versions)); err != nil {
			p.add(joinPath(sp, "versions"), 0, "%q: %v", s.Versions, err)
		}
	}
}

func (c *Catalog) validateKiali(p *problems, at string, k KialiPairing) {
	rng, err := semver.NewConstraint(k.Range)
	if err != nil {
		p.add(joinPath(at, "range"), 0, "%q: %v", k.Range, err)
		return
	}
	v, err := semver.StrictNewVersion(k.Recommended)
	if err != nil {
		p.add(joinPath(at, "recommended"), 0, "%q is not a version like 2.26.0", k.Recommended)
		return
	}
	if !rng.Check(v) {
		p.add(joinPath(at, "recommended"), 0, "%s is outside its range %s", k.Recommended, k.Range)
	}
}

func (c *Catalog) validateGatewayPairing(p *problems, at string, g GatewayAPIPairing) {
	if c.gatewayAPIVersion(g.Tested) == nil {
		p.add(joinPath(at, "tested"), 0, "%q is not in gatewayAPI.versions", g.Tested)
	}
	for _, b := range []struct{ field, v string }{{"min", g.Min}, {"max", g.Max}} {
		if b.v != "" && !semverPattern.MatchString(b.v) {
			p.add(joinPath(at, b.field), 0, "%q is not a version like v1.5.0", b.v)
		}
	}
	if semverPattern.MatchString(g.Tested) && outsideBounds(g.Tested, g.Min, g.Max) != "" {
		p.add(joinPath(at, "tested"), 0, "%s is outside [%s, %s]", g.Tested, g.Min, g.Max)
	}
	if !slices.Contains(c.GatewayAPI.Channels, g.Channel) {
		p.add(joinPath(at, "channel"), 0, "%q is not in gatewayAPI.channels", g.Channel)
	}
}

func (c *Catalog) validateSources(p *problems) {
	k := c.Kiali
	if !strings.HasPrefix(k.Repo, "https://") {
		p.add("kiali.repo", 0, "%q is not an https URL", k.Repo)
	}
	requireText(p, "kiali", map[string]string{"chart": k.Chart, "image": k.Image})
	if !strings.Contains(k.Tag, "{version}") {
		p.add("kiali.tag", 0, "want a tag template containing {version}")
	}
	for i, ch := range k.Charts {
		at := indexPath("kiali.charts", i)
		if !semverPattern.MatchString(ch.Version) || strings.HasPrefix(ch.Version, "v") {
			p.add(joinPath(at, "version"), 0, "%q is not a version like 2.26.0", ch.Version)
		}
		if ch.Digest != "" {
			validateDigestField(p, joinPath(at, "digest"), ch.Digest)
		}
	}
	g := c.GatewayAPI
	if !strings.HasPrefix(g.AssetURL, "https://") || !strings.Contains(g.AssetURL, "{version}") || !strings.Contains(g.AssetURL, "{channel}") {
		p.add("gatewayAPI.assetURL", 0, "want an https URL template with {version} and {channel}")
	}
	for i, v := range g.Versions {
		at := indexPath("gatewayAPI.versions", i)
		if !semverPattern.MatchString(v.Version) || !strings.HasPrefix(v.Version, "v") {
			p.add(joinPath(at, "version"), 0, "%q is not a version like v1.5.1", v.Version)
		}
		if v.KubernetesMin != "" {
			if err := checkKubeMinor(v.KubernetesMin); err != nil {
				p.add(joinPath(at, "kubernetesMin"), 0, "%v", err)
			}
			if v.KubernetesMinReason == "" {
				p.add(joinPath(at, "kubernetesMinReason"), 0, "required with kubernetesMin: say why the floor exists")
			}
		}
		for j, f := range v.Files {
			fp := indexPath(joinPath(at, "files"), j)
			if !slices.Contains(g.Channels, f.Channel) {
				p.add(joinPath(fp, "channel"), 0, "%q is not in gatewayAPI.channels", f.Channel)
			}
			validateDigestField(p, joinPath(fp, "digest"), f.Digest)
		}
	}
}

func checkKubeMinor(v string) error {
	if !minorPattern.MatchString(v) || strings.HasPrefix(v, "v") {
		return fmt.Errorf("%q is not a Kubernetes minor like 1.32", v)
	}
	return nil
}

func orAny(constraint string) string {
	if constraint == "" {
		return "*"
	}
	return constraint
}

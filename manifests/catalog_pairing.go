package manifests

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// KialiResolution is what a Kiali version request resolved to.
type KialiResolution struct {
	// Version is exact, without "v", e.g. "2.26.0".
	Version string
	// Image is the image reference with tag, e.g. "quay.io/kiali/kiali:v2.26.0".
	Image string
	// Chart is the chart name and ChartRepo its HTTP repository.
	Chart     string
	ChartRepo string
	// ChartDigest is the catalog's sha256 of the chart archive, or "".
	ChartDigest string
	Notes       []string
}

// KialiFor resolves a Kiali request for an exact Istio version: "" is the
// recommended version of the Istio minor, "2.26" the newest catalog patch of
// that minor, "2.26.0" (or "v2.26.0") itself. Compatibility is not checked
// here; CheckCompatibility reports it. istioVersion may be "" (no Istio) when
// requested is set.
func (c *Catalog) KialiFor(istioVersion, requested string) (KialiResolution, error) {
	req := trimV(strings.TrimSpace(requested))
	var v string
	switch {
	case req == "":
		rel := c.Release(minorOf(istioVersion))
		if rel == nil {
			return KialiResolution{}, fmt.Errorf("kiali: no version given and istio %q has no catalog pairing; set kiali.version", istioVersion)
		}
		v = rel.Kiali.Recommended
	case semverPattern.MatchString(req):
		v = req
	case minorPattern.MatchString(req):
		v = c.newestKiali(req)
		if v == "" {
			return KialiResolution{}, fmt.Errorf("kiali %s: %w; give an exact version like %s.0", req, ErrUnknownVersion, req)
		}
	default:
		return KialiResolution{}, fmt.Errorf("kiali %q: want a version like 2.26 or 2.26.0", requested)
	}
	res := KialiResolution{
		Version:   v,
		Image:     c.Kiali.Image + ":" + strings.ReplaceAll(c.Kiali.Tag, "{version}", v),
		Chart:     c.Kiali.Chart,
		ChartRepo: c.Kiali.Repo,
	}
	for _, ch := range c.Kiali.Charts {
		if ch.Version == v {
			res.ChartDigest = ch.Digest
		}
	}
	if res.ChartDigest == "" {
		res.Notes = append(res.Notes, fmt.Sprintf("kiali-server %s has no sha256 in the catalog; the repository index digest is pinned at resolve", v))
	}
	return res, nil
}

func (c *Catalog) newestKiali(minor string) string {
	var best *semver.Version
	for _, ch := range c.Kiali.Charts {
		if minorOf(ch.Version) != minor {
			continue
		}
		if v, err := semver.StrictNewVersion(ch.Version); err == nil && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return ""
	}
	return best.String()
}

// GatewayAPIResolution is what a Gateway API request resolved to.
type GatewayAPIResolution struct {
	// Version is exact with "v", e.g. "v1.5.1".
	Version string
	// Channel is "standard" or "experimental".
	Channel string
	// Name is the release asset name, e.g. "standard-install.yaml".
	Name string
	// URL is the release asset URL.
	URL string
	// Digest is the catalog's sha256 of the asset, or "" (pinned at resolve).
	Digest string
	Notes  []string
}

// GatewayAPIFor resolves a Gateway API request for an exact Istio version:
// "" is the version Istio tests with, "v1.5" the newest catalog patch of that
// minor, "v1.5.1" (or "1.5.1") itself. channel "" is the Istio minor's default.
func (c *Catalog) GatewayAPIFor(istioVersion, requested, channel string) (GatewayAPIResolution, error) {
	rel := c.Release(minorOf(istioVersion))
	req := withV(strings.TrimSpace(requested))
	var v string
	switch {
	case req == "":
		if rel == nil {
			return GatewayAPIResolution{}, fmt.Errorf("gateway-api: no version given and istio %q has no catalog pairing; set gatewayAPI.version", istioVersion)
		}
		v = rel.GatewayAPI.Tested
	case semverPattern.MatchString(req):
		v = req
	case minorPattern.MatchString(req):
		v = c.newestGatewayAPI(req)
		if v == "" {
			return GatewayAPIResolution{}, fmt.Errorf("gateway-api %s: %w; give an exact version like %s.0", req, ErrUnknownVersion, req)
		}
	default:
		return GatewayAPIResolution{}, fmt.Errorf("gateway-api %q: want a version like v1.5.1", requested)
	}
	if channel == "" {
		channel = ChannelStandard
		if rel != nil {
			channel = rel.GatewayAPI.Channel
		}
	}
	if channel != ChannelStandard && channel != ChannelExperimental {
		return GatewayAPIResolution{}, fmt.Errorf("gateway-api channel %q: want standard or experimental", channel)
	}
	res := GatewayAPIResolution{Version: v, Channel: channel, Name: channel + "-install.yaml"}
	res.URL = strings.NewReplacer("{version}", v, "{channel}", channel).Replace(c.GatewayAPI.AssetURL)
	if gv := c.gatewayAPIVersion(v); gv == nil {
		res.Notes = append(res.Notes, fmt.Sprintf("gateway-api %s is not in the catalog; it is resolved as given", v))
	} else {
		for _, f := range gv.Files {
			if f.Channel == channel {
				res.Digest = f.Digest
			}
		}
	}
	return res, nil
}

func (c *Catalog) gatewayAPIVersion(v string) *GatewayAPIVersion {
	for i := range c.GatewayAPI.Versions {
		if c.GatewayAPI.Versions[i].Version == v {
			return &c.GatewayAPI.Versions[i]
		}
	}
	return nil
}

func (c *Catalog) newestGatewayAPI(minor string) string {
	var best *semver.Version
	for _, gv := range c.GatewayAPI.Versions {
		if withV(minorOf(gv.Version)) != minor {
			continue
		}
		if v, err := semver.NewVersion(gv.Version); err == nil && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return ""
	}
	return "v" + best.String()
}

// Violation is one broken compatibility rule.
type Violation struct {
	// Rule names the rule: "istio-known", "kiali-range", "kubernetes-range",
	// "gateway-api-min", "gateway-api-max", "gateway-api-kubernetes".
	Rule string
	// Message names both versions and the rule, e.g. "kiali 2.12.0 is outside
	// the range >=2.22.0 <2.30.0 supported by istio 1.30.3".
	Message string
}

// Error makes a Violation usable as an error.
func (v Violation) Error() string { return v.Message }

// CheckCompatibility checks a resolved set against the catalog's pairing rules.
// An empty result means the set is supported.
func (c *Catalog) CheckCompatibility(set ResolvedSet) []Violation {
	if set.Istio == "" {
		return nil
	}
	rel := c.Release(minorOf(set.Istio))
	if rel == nil {
		return []Violation{{Rule: "istio-known", Message: fmt.Sprintf("istio %s is not a minor the catalog knows (%s)", set.Istio, strings.Join(c.minors(), ", "))}}
	}
	var out []Violation
	if set.Kiali != "" {
		cons, err1 := semver.NewConstraint(rel.Kiali.Range)
		v, err2 := semver.NewVersion(set.Kiali)
		if err1 == nil && (err2 != nil || !cons.Check(v)) {
			out = append(out, Violation{Rule: "kiali-range", Message: fmt.Sprintf("kiali %s is outside the range %s supported by istio %s", trimV(set.Kiali), rel.Kiali.Range, set.Istio)})
		}
	}
	if k := set.ClusterKubernetes; k != "" {
		if outsideBounds(minorOf(k)+".0", rel.Kubernetes.Min+".0", rel.Kubernetes.Max+".0") != "" {
			out = append(out, Violation{Rule: "kubernetes-range", Message: fmt.Sprintf("kubernetes %s is outside the range %s to %s supported by istio %s", k, rel.Kubernetes.Min, rel.Kubernetes.Max, set.Istio)})
		}
	}
	if set.GatewayAPI != "" {
		g := rel.GatewayAPI
		switch outsideBounds(set.GatewayAPI, g.Min, g.Max) {
		case "below":
			out = append(out, Violation{Rule: "gateway-api-min", Message: fmt.Sprintf("gateway-api %s is below the minimum %s for istio %s: %s", set.GatewayAPI, g.Min, set.Istio, g.MinReason)})
		case "above":
			out = append(out, Violation{Rule: "gateway-api-max", Message: fmt.Sprintf("gateway-api %s is above the maximum %s for istio %s: %s", set.GatewayAPI, g.Max, set.Istio, g.MaxReason)})
		}
		if v := c.gatewayAPIKubernetes(set); v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// gatewayAPIKubernetes checks the target cluster against the Gateway API
// release's own Kubernetes floor (catalog gatewayAPI.versions[].kubernetesMin).
func (c *Catalog) gatewayAPIKubernetes(set ResolvedSet) *Violation {
	gv := c.gatewayAPIVersion(set.GatewayAPI)
	k := set.ClusterKubernetes
	if gv == nil || gv.KubernetesMin == "" || k == "" || outsideBounds(minorOf(k)+".0", gv.KubernetesMin+".0", "") != "below" {
		return nil
	}
	return &Violation{Rule: "gateway-api-kubernetes", Message: fmt.Sprintf("kubernetes %s is below %s, the oldest Kubernetes gateway-api %s supports: %s; use a cluster of Kubernetes %s or newer, or an older gateway-api", k, gv.KubernetesMin, set.GatewayAPI, gv.KubernetesMinReason, gv.KubernetesMin)}
}

// GatewayAPIKubernetesMin returns the Kubernetes floor of a Gateway API
// release ("v1.5.1" -> "1.30") and why, or "" when the catalog knows none.
func (c *Catalog) GatewayAPIKubernetesMin(version string) (minor, reason string) {
	if gv := c.gatewayAPIVersion(withV(version)); gv != nil {
		return gv.KubernetesMin, gv.KubernetesMinReason
	}
	return "", ""
}

// outsideBounds returns "below", "above" or "" for v against inclusive bounds.
func outsideBounds(v, minV, maxV string) string {
	sv, err := semver.NewVersion(v)
	if err != nil {
		return ""
	}
	if lo, err := semver.NewVersion(minV); minV != "" && err == nil && sv.LessThan(lo) {
		return "below"
	}
	if hi, err := semver.NewVersion(maxV); maxV != "" && err == nil && sv.GreaterThan(hi) {
		return "above"
	}
	return ""
}

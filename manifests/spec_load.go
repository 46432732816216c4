package manifests

import (
	"io"
	"slices"
	"sort"
	"strings"
)

// LoadSpec reads a MeshBundle spec (mesh.yaml) strictly: unknown fields and
// values of the wrong kind are rejected with their field path and line. It
// does not validate values or fill defaults; call Normalize and Validate.
func LoadSpec(r io.Reader) (*Spec, error) {
	var s Spec
	if err := decodeStrict(r, "spec", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Normalize fills the defaults and canonical forms a resolver relies on:
// profile sidecar; variant by profile (sidecar: default, ambient: distroless);
// Gateway API on when Istio is carried, channel standard; Kiali versions
// without "v", Gateway API versions with "v"; platforms, extra images and
// mirrors trimmed, de-duplicated and sorted. It is idempotent.
func (s *Spec) Normalize() {
	if s.APIVersion == "" {
		s.APIVersion = APIVersion
	}
	if s.Kind == "" {
		s.Kind = SpecKind
	}
	s.Istio.Version = strings.TrimSpace(s.Istio.Version)
	if s.HasIstio() {
		s.Istio.Version = trimV(s.Istio.Version)
		if s.Istio.Profile == "" {
			s.Istio.Profile = ProfileSidecar
		}
		if s.Istio.Variant == "" {
			s.Istio.Variant = VariantDefault
			if s.Istio.Profile == ProfileAmbient {
				s.Istio.Variant = VariantDistroless
			}
		}
	}
	s.Kiali.Version = trimV(strings.TrimSpace(s.Kiali.Version))
	s.Kiali.PrometheusURL = strings.TrimSpace(s.Kiali.PrometheusURL)
	s.Kubernetes.Version = trimV(strings.TrimSpace(s.Kubernetes.Version))
	if s.GatewayAPI.Enabled == nil {
		on := s.HasIstio()
		s.GatewayAPI.Enabled = &on
	}
	s.GatewayAPI.Version = withV(strings.TrimSpace(s.GatewayAPI.Version))
	if *s.GatewayAPI.Enabled && s.GatewayAPI.Channel == "" {
		s.GatewayAPI.Channel = ChannelStandard
	}
	s.Platforms = sortedUnique(s.Platforms)
	s.Istio.Istioctl = sortedUnique(s.Istio.Istioctl)
	s.ExtraImages = sortedUnique(s.ExtraImages)
	s.normalizeUserContent()
	ms := make([]Mirror, 0, len(s.Mirrors))
	for _, m := range s.Mirrors {
		m.Origin = strings.TrimRight(strings.TrimSpace(m.Origin), "/")
		m.Replacement = strings.TrimRight(strings.TrimSpace(m.Replacement), "/")
		ms = append(ms, m)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Origin < ms[j].Origin })
	s.Mirrors = slices.CompactFunc(ms, func(a, b Mirror) bool { return a == b })
	if len(s.Mirrors) == 0 {
		s.Mirrors = nil
	}
}

// HasIstio reports whether the spec carries Istio (version set and not "none").
func (s *Spec) HasIstio() bool {
	return s.Istio.Version != "" && s.Istio.Version != IstioNone
}

// GatewayAPIEnabled reports whether the Gateway API CRDs are carried, applying
// the default (on when Istio is carried) if Normalize has not run.
func (s *Spec) GatewayAPIEnabled() bool {
	if s.GatewayAPI.Enabled != nil {
		return *s.GatewayAPI.Enabled
	}
	return s.HasIstio()
}

// Variants returns the image variants to carry: ["default"], ["distroless"]
// or both, applying the profile default if Normalize has not run.
func (s *Spec) Variants() []string {
	switch s.Istio.Variant {
	case VariantBoth:
		return []string{VariantDefault, VariantDistroless}
	case VariantDefault, VariantDistroless:
		return []string{s.Istio.Variant}
	}
	if s.Istio.Profile == ProfileAmbient {
		return []string{VariantDistroless}
	}
	return []string{VariantDefault}
}

// Validate checks values: apiVersion and kind, version syntax, enumerations,
// platforms, image references and mirrors. Every problem is reported, each
// with its field path. Empty optional fields are fine (Normalize fills them).
func (s *Spec) Validate() error {
	var p problems
	s.validate(&p, "")
	return p.err("spec")
}

func (s *Spec) validate(p *problems, base string) {
	at := func(f string) string { return joinPath(base, f) }
	if s.APIVersion != APIVersion {
		p.add(at("apiVersion"), 0, "%q is not %s", s.APIVersion, APIVersion)
	}
	if s.Kind != SpecKind {
		p.add(at("kind"), 0, "%q is not %s", s.Kind, SpecKind)
	}
	s.validateIstio(p, at("istio"))
	if s.Kiali.Version != "" && !isVersionOrMinor(s.Kiali.Version) {
		p.add(at("kiali.version"), 0, "%q is not a version like 2.26 or 2.26.0", s.Kiali.Version)
	}
	if s.Kiali.Enabled && !s.HasIstio() && s.Kiali.Version == "" {
		p.add(at("kiali.version"), 0, "required when istio.version is none (there is no Istio release to pair Kiali with)")
	}
	if u := s.Kiali.PrometheusURL; u != "" {
		if err := CheckPrometheusURL(u); err != nil {
			p.add(at("kiali.prometheusURL"), 0, "%v", err)
		} else if !s.Kiali.Enabled {
			p.add(at("kiali.prometheusURL"), 0, "set, but kiali is not enabled: it names the Prometheus Kiali reads")
		}
	}
	g := s.GatewayAPI
	if g.Version != "" && !isVersionOrMinor(g.Version) {
		p.add(at("gatewayAPI.version"), 0, "%q is not a version like v1.5.1", g.Version)
	}
	if g.Channel != "" && g.Channel != ChannelStandard && g.Channel != ChannelExperimental {
		p.add(at("gatewayAPI.channel"), 0, "%q is not one of %s, %s", g.Channel, ChannelStandard, ChannelExperimental)
	}
	if g.Enabled != nil && *g.Enabled && !s.HasIstio() && g.Version == "" {
		p.add(at("gatewayAPI.version"), 0, "required when istio.version is none and gatewayAPI.enabled is true")
	}
	if k := s.Kubernetes.Version; k != "" && !isVersionOrMinor(k) {
		p.add(at("kubernetes.version"), 0, "%q is not a Kubernetes version like 1.33 or 1.33.4", k)
	}
	for i, pl := range s.Platforms {
		if err := ValidatePlatform(pl); err != nil {
			p.add(indexPath(at("platforms"), i), 0, "%v", err)
		}
	}
	for i, img := range s.ExtraImages {
		if _, err := NormalizeImage(img); err != nil {
			p.add(indexPath(at("extraImages"), i), 0, "%v", err)
		}
	}
	s.validateUserContent(p, at)
	origins := map[string]bool{}
	for i, m := range s.Mirrors {
		mp := indexPath(at("mirrors"), i)
		if strings.TrimSpace(m.Origin) == "" {
			p.add(joinPath(mp, "origin"), 0, "empty; want a registry host, repository or URL prefix, e.g. docker.io")
		}
		if strings.TrimSpace(m.Replacement) == "" {
			p.add(joinPath(mp, "replacement"), 0, "empty; want the mirror's host, repository or URL prefix")
		}
		if o := strings.TrimRight(m.Origin, "/"); o != "" && origins[o] {
			p.add(joinPath(mp, "origin"), 0, "%q is mirrored twice", o)
		}
		origins[strings.TrimRight(m.Origin, "/")] = true
	}
}

func (s *Spec) validateIstio(p *problems, base string) {
	at := func(f string) string { return joinPath(base, f) }
	v := s.Istio.Version
	switch {
	case v == "":
		p.add(at("version"), 0, "required: a minor (1.30), an exact version (1.30.3) or none")
	case v != IstioNone && !isVersionOrMinor(v):
		p.add(at("version"), 0, "%q is not a minor (1.30), an exact version (1.30.3) or none", v)
	}
	if pr := s.Istio.Profile; pr != "" && pr != ProfileSidecar && pr != ProfileAmbient {
		p.add(at("profile"), 0, "%q is not one of %s, %s", pr, ProfileSidecar, ProfileAmbient)
	}
	switch s.Istio.Variant {
	case "", VariantDefault, VariantDistroless, VariantBoth:
	default:
		p.add(at("variant"), 0, "%q is not one of %s, %s, %s", s.Istio.Variant, VariantDefault, VariantDistroless, VariantBoth)
	}
	for i, pl := range s.Istio.Istioctl {
		if err := ValidatePlatform(pl); err != nil {
			p.add(indexPath(at("istioctl"), i), 0, "%v", err)
		}
	}
	if len(s.Istio.Istioctl) > 0 && v == IstioNone {
		p.add(at("istioctl"), 0, "needs an Istio version: istioctl is carried for the Istio release of the bundle")
	}
}

// isVersionOrMinor accepts "1.30", "1.30.3", "v1.30.3" and "1.31.0-rc.0".
func isVersionOrMinor(v string) bool {
	return minorPattern.MatchString(v) || semverPattern.MatchString(v)
}

// isExactVersion accepts "1.30.3", "v1.30.3" and "1.31.0-rc.0".
func isExactVersion(v string) bool { return semverPattern.MatchString(v) }

func sortedUnique(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

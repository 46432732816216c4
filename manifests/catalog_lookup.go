package manifests

import (
	"encoding/pem"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// IstioResolution is what an Istio version request resolved to.
type IstioResolution struct {
	// Version is the exact version, e.g. "1.30.3".
	Version string
	// Release is the catalog entry of its minor.
	Release *IstioRelease
	// Known is true when Version is among Release.Patches.
	Known bool
	// Notes explain anything the user should know (an unknown patch, EOL).
	Notes []string
}

// ResolveIstio resolves "1.30" to the minor's latest patch and checks that an
// exact "1.30.3" belongs to a known minor. An exact patch the catalog does not
// list is allowed with a note (the registry has the final word at resolve).
func (c *Catalog) ResolveIstio(version string) (IstioResolution, error) {
	v := trimV(strings.TrimSpace(version))
	if !minorPattern.MatchString(v) && !semverPattern.MatchString(v) {
		return IstioResolution{}, fmt.Errorf("istio %q: want a minor (1.30) or an exact version (1.30.3)", version)
	}
	rel := c.Release(minorOf(v))
	if rel == nil {
		return IstioResolution{}, c.unknownMinor(v)
	}
	res := IstioResolution{Version: v, Release: rel}
	if minorPattern.MatchString(v) {
		if rel.Latest == "" {
			return IstioResolution{}, fmt.Errorf("istio %s: the catalog knows no patch of it; name an exact version like %s.0", v, v)
		}
		res.Version = rel.Latest
	}
	res.Known = slices.Contains(rel.Patches, res.Version)
	if !res.Known {
		res.Notes = append(res.Notes, fmt.Sprintf("istio %s is not among the catalog's %s patches (newest known %s); it is resolved as given", res.Version, rel.Minor, rel.Latest))
	}
	if rel.Status == StatusEOL {
		res.Notes = append(res.Notes, fmt.Sprintf("istio %s reached end of life on %s", rel.Minor, rel.EOL))
	}
	return res, nil
}

// Release returns the entry of an Istio minor ("1.30"), or nil.
func (c *Catalog) Release(minor string) *IstioRelease {
	for i := range c.Istio {
		if c.Istio[i].Minor == minor {
			return &c.Istio[i]
		}
	}
	return nil
}

func (c *Catalog) minors() []string {
	out := make([]string, len(c.Istio))
	for i, r := range c.Istio {
		out[i] = r.Minor
	}
	return out
}

// SignedBy returns the name of the key that signs this release's images at
// version, or "" when the catalog knows no signature for it.
func (r *IstioRelease) SignedBy(version string) string {
	v, err := semver.NewVersion(version)
	if err != nil {
		return ""
	}
	for _, s := range r.Signing {
		if cons, err := semver.NewConstraint(orAny(s.Versions)); err == nil && cons.Check(v) {
			return s.Key
		}
	}
	return ""
}

// SigningKey returns the named key, or nil.
func (c *Catalog) SigningKey(name string) *SigningKey {
	for i := range c.SigningKeys {
		if c.SigningKeys[i].Name == name {
			return &c.SigningKeys[i]
		}
	}
	return nil
}

// SetPublicKey sets the PEM of a named key (from --upstream-key NAME=FILE).
func (c *Catalog) SetPublicKey(name string, pemData []byte) error {
	k := c.SigningKey(name)
	if k == nil {
		names := make([]string, len(c.SigningKeys))
		for i, s := range c.SigningKeys {
			names[i] = s.Name
		}
		return fmt.Errorf("signing key %q: not in the catalog; known keys: %s", name, strings.Join(names, ", "))
	}
	if b, _ := pem.Decode(pemData); b == nil || b.Type != "PUBLIC KEY" {
		return fmt.Errorf("signing key %q: not a PEM \"PUBLIC KEY\" block; pass the .pub file cosign verifies with", name)
	}
	k.PublicKey = string(pemData)
	return nil
}

// ImageOptions selects the Istio images a bundle needs.
type ImageOptions struct {
	// Profile is "sidecar" (default) or "ambient".
	Profile string
	// Variants are "default" and/or "distroless"; empty means the profile's
	// default (sidecar: default, ambient: distroless).
	Variants []string
	// CNI adds install-cni in sidecar mode (ambient always has it).
	CNI bool
	// Agentgateway adds the agentgateway image (an error before 1.29).
	Agentgateway bool
}

// CatalogImage is an image the catalog expects a bundle to carry.
type CatalogImage struct {
	// Name is the short name, e.g. "pilot".
	Name string
	// Reference is the canonical reference with tag.
	Reference  string
	Components []string
	// SignedBy names the signing key, or "" when not known to be signed.
	SignedBy string
}

// ExpectedImages returns the images the catalog expects for an exact Istio
// version, sorted by reference. It is the cross-check for what rendering the
// charts discovers.
func (c *Catalog) ExpectedImages(version string, opts ImageOptions) ([]CatalogImage, error) {
	rel := c.Release(minorOf(version))
	if rel == nil {
		return nil, fmt.Errorf("istio %s: %w", version, ErrUnknownVersion)
	}
	ambient := opts.Profile == ProfileAmbient
	variants := opts.Variants
	if len(variants) == 0 {
		variants = []string{VariantDefault}
		if ambient {
			variants = []string{VariantDistroless}
		}
	}
	if opts.Agentgateway && !slices.Contains(rel.Images, "agentgateway") {
		return nil, fmt.Errorf("istio %s: no agentgateway image before Istio 1.29; drop istio.agentgateway", version)
	}
	var out []CatalogImage
	for _, img := range c.IstioImages {
		if !slices.Contains(rel.Images, img.Name) || !wanted(img.When, ambient, opts) {
			continue
		}
		for _, variant := range variants {
			tmpl, ok := c.ImageVariants[variant]
			if !ok {
				return nil, fmt.Errorf("istio %s: variant %q is not one of default, distroless", version, variant)
			}
			out = append(out, CatalogImage{
				Name:       img.Name,
				Reference:  c.ImageHub + "/" + img.Name + ":" + strings.ReplaceAll(tmpl, "{version}", version),
				Components: slices.Clone(img.Components),
				SignedBy:   rel.SignedBy(version),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reference < out[j].Reference })
	return out, nil
}

func wanted(when string, ambient bool, opts ImageOptions) bool {
	switch when {
	case WhenAlways:
		return true
	case WhenCNI:
		return ambient || opts.CNI
	case WhenAmbient:
		return ambient
	case WhenAgentgateway:
		return opts.Agentgateway
	}
	return false
}

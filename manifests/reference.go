package manifests

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

var (
	sha256Digest  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	platformPart  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	semverPattern = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)
	minorPattern  = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
)

// ValidDigest reports whether d is "sha256:" followed by 64 lowercase hex digits,
// the only digest form meshpack writes.
func ValidDigest(d string) bool { return sha256Digest.MatchString(d) }

// ValidatePlatform checks the "os/arch[/variant]" form, e.g. "linux/arm64" or
// "linux/arm/v7".
func ValidatePlatform(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", p)
	}
	for _, part := range parts {
		if !platformPart.MatchString(part) {
			return fmt.Errorf("platform %q: want os/arch[/variant] in lowercase, e.g. linux/arm64", p)
		}
	}
	return nil
}

// NormalizeImage parses an image reference the way docker does ("nginx:1.27"
// is "docker.io/library/nginx:1.27") and returns its fully qualified form.
func NormalizeImage(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return named.String(), nil
}

// TargetRepository maps an upstream image reference to its repository in an
// internal registry, keeping the path: "docker.io/istio/pilot:1.30.3" with
// registry "reg.local:5000/mesh" is "reg.local:5000/mesh/istio/pilot". Tag and
// digest are dropped.
func TargetRepository(ref, registry string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	registry = strings.TrimRight(registry, "/")
	if registry == "" {
		return "", fmt.Errorf("image %q: empty target registry", ref)
	}
	return registry + "/" + reference.Path(named), nil
}

// checkLockedReference requires a fully qualified reference with a tag or a
// digest (an extra image the user pinned by digest keeps its digest form).
func checkLockedReference(ref string) error {
	named, err := reference.ParseNamed(ref)
	if err != nil {
		return fmt.Errorf("%q is not a fully qualified image reference: %w", ref, err)
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	if !tagged && !digested {
		return fmt.Errorf("%q has neither tag nor digest; a lock keeps the upstream tag next to the digest", ref)
	}
	return nil
}

// trimV drops one leading "v".
func trimV(s string) string { return strings.TrimPrefix(s, "v") }

// withV adds a leading "v" if missing.
func withV(s string) string {
	if s == "" || strings.HasPrefix(s, "v") {
		return s
	}
	return "v" + s
}

// minorOf returns "1.30" for "1.30.3", "v1.30.3-rc.0" or "1.30".
func minorOf(v string) string {
	v = trimV(v)
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

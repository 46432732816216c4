package manifests

import (
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PlatformMatches reports whether platform ("os/arch[/variant]") passes the
// filter. An empty filter matches everything; "linux/arm64" matches every
// arm64 variant, "linux/arm64/v8" only v8.
func PlatformMatches(platform string, filter []string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if platform == f || strings.HasPrefix(platform, f+"/") {
			return true
		}
	}
	return false
}

// FormatPlatform renders an OCI platform as "os/arch[/variant]", and a
// missing one as "unknown/unknown" (as buildx labels attestation manifests).
func FormatPlatform(p *ocispec.Platform) string {
	if p == nil {
		return "unknown/unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

package manifests

import "strings"

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

package manifests

import (
	"fmt"
	"strings"
)

// IstioctlCatalog says where the istioctl release archives of an Istio
// version are published, one per platform, each with NAME.sha256 beside it.
type IstioctlCatalog struct {
	// AssetURL is the archive URL template: "{version}" is the Istio version
	// (e.g. "1.30.3"), "{suffix}" the platform's suffix.
	AssetURL string `json:"assetURL"`
	// Executable is the program's path inside each archive ("istioctl").
	Executable string `json:"executable"`
	// Platforms are the platforms upstream publishes an archive for.
	Platforms []IstioctlPlatform `json:"platforms"`
}

// IstioctlPlatform maps a platform to the suffix of its archive name.
type IstioctlPlatform struct {
	// Platform is "os/arch[/variant]", e.g. "darwin/arm64".
	Platform string `json:"platform"`
	// Suffix is what the archive name carries for it, e.g. "osx-arm64".
	Suffix string `json:"suffix"`
}

// IstioctlAsset is one istioctl archive to pin.
type IstioctlAsset struct {
	Platform string
	// Name is the archive's file name, "istioctl-1.30.3-linux-amd64.tar.gz".
	Name string
	// URL is the archive's canonical upstream URL; URL+".sha256" is its
	// checksum file.
	URL        string
	Executable string
}

// IstioctlAssets returns the archives of Istio version (exact, "1.30.3")
// for each of platforms, in the order given. A platform upstream publishes
// no archive for is an error naming those it does.
func (c *Catalog) IstioctlAssets(version string, platforms []string) ([]IstioctlAsset, error) {
	if len(platforms) == 0 {
		return nil, nil
	}
	ic := c.Istioctl
	if ic == nil {
		return nil, fmt.Errorf("istioctl for %v: the catalog has no istioctl section (use the embedded catalog, or add an istioctl section to the catalog file)", platforms)
	}
	out := make([]IstioctlAsset, 0, len(platforms))
	for _, pl := range platforms {
		suffix := ""
		for _, p := range ic.Platforms {
			if p.Platform == pl {
				suffix = p.Suffix
			}
		}
		if suffix == "" {
			return nil, fmt.Errorf("istioctl %s: Istio publishes no istioctl archive for %s; it does for %s", version, pl, strings.Join(ic.platformNames(), ", "))
		}
		u := strings.NewReplacer("{version}", version, "{suffix}", suffix).Replace(ic.AssetURL)
		out = append(out, IstioctlAsset{Platform: pl, Name: u[strings.LastIndex(u, "/")+1:], URL: u, Executable: ic.Executable})
	}
	return out, nil
}

func (ic *IstioctlCatalog) platformNames() []string {
	names := make([]string, 0, len(ic.Platforms))
	for _, p := range ic.Platforms {
		names = append(names, p.Platform)
	}
	return names
}

// validateIstioctl checks the istioctl section, when there is one.
func (c *Catalog) validateIstioctl(p *problems) {
	ic := c.Istioctl
	if ic == nil {
		return
	}
	if !strings.HasPrefix(ic.AssetURL, "https://") || !strings.Contains(ic.AssetURL, "{version}") || !strings.Contains(ic.AssetURL, "{suffix}") || !strings.HasSuffix(ic.AssetURL, ".tar.gz") {
		p.add("istioctl.assetURL", 0, "%q is not an https URL of a .tar.gz containing {version} and {suffix}", ic.AssetURL)
	}
	if ic.Executable == "" || strings.HasPrefix(ic.Executable, "/") || strings.Contains(ic.Executable, "..") {
		p.add("istioctl.executable", 0, "%q is not a relative path inside the archive", ic.Executable)
	}
	seen := map[string]bool{}
	for i, pl := range ic.Platforms {
		at := indexPath("istioctl.platforms", i)
		if err := ValidatePlatform(pl.Platform); err != nil {
			p.add(joinPath(at, "platform"), 0, "%v", err)
		}
		if seen[pl.Platform] {
			p.add(joinPath(at, "platform"), 0, "%q is duplicated", pl.Platform)
		}
		seen[pl.Platform] = true
		if pl.Suffix == "" || strings.ContainsAny(pl.Suffix, "/ ") {
			p.add(joinPath(at, "suffix"), 0, "%q is not a file-name suffix like linux-amd64", pl.Suffix)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

// TestLayers keeps imports flowing one way (DECISIONS.md "Architecture"):
// each ranked package imports only packages of ours of a lower rank, so no
// import runs back up; and the format, data and signing packages link no
// network or orchestration code of ours at all.
func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/lattice-mesh/meshpack/"
	rank := map[string]int{
		"mediatype":         0, // constants; imports nothing of ours
		"progress":          0, // the one progress event; imports nothing of ours
		"atomicfile":        0, // publishing files; standard library only
		"bundle":            1, // the format
		"manifests":         1, // catalog, spec, lock
		"signing":           1, // cosign
		"mirror/registry":   1, // embedded Distribution
		"remote":            2, // every registry and HTTP request
		"sbom":              2, // the bundle's CycloneDX SBOM, from its BOM
		"manifests/render":  2, // Helm rendering
		"manifests/resolve": 3, // spec -> lock, through remote
		"manifests/install": 3, // bundle -> install plan and rendered manifests, no network
		"mirror":            3, // pull and load orchestration, through remote
		"pack":              4, // one command's steps
		"cluster":           4, // plan -> a real cluster: preflight, install, wait, uninstall, audit
		"cmd/meshpack":      5,
	}
	imports := goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...")
	for _, line := range strings.Split(strings.TrimSpace(imports), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		r, ranked := rank[pkg]
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, mod)
			if !ours || dep == pkg {
				continue
			}
			if strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", pkg, dep)
				continue
			}
			if !ranked {
				continue
			}
			switch dr, ok := rank[dep]; {
			case !ok:
				t.Errorf("%s (rank %d) imports %s, which has no rank: give it one in TestLayers", pkg, r, dep)
			case dr >= r:
				t.Errorf("%s (rank %d) imports %s (rank %d): imports must go to a lower rank", pkg, r, dep, dr)
			}
		}
	}
	for _, tc := range []struct {
		patterns  []string
		forbidden []string
	}{
		// No HTTP client code of ours below the network layer.
		{[]string{mod + "bundle/...", mod + "signing/...", mod + "manifests", mod + "manifests/render", mod + "mediatype", mod + "atomicfile", mod + "progress"},
			[]string{mod + "remote", mod + "mirror", mod + "pack", mod + "cmd/"}},
		// Resolve fetches through remote and knows nothing of moving content.
		{[]string{mod + "manifests/resolve"}, []string{mod + "mirror", mod + "pack", mod + "cmd/"}},
		// The install plan reads a bundle and renders through Helm; it never
		// talks to a registry, and reaches a cluster only through the Helm
		// configuration the cluster package hands it.
		{[]string{mod + "manifests/install"}, []string{mod + "remote", mod + "mirror", mod + "pack", mod + "cmd/"}},
		// The network layer serves everyone above it and imports none of them.
		{[]string{mod + "remote"}, []string{mod + "mirror", mod + "manifests/resolve", mod + "manifests/render", mod + "pack", mod + "cmd/"}},
	} {
		deps := strings.Fields(goList(t, append([]string{"-deps", "-f", "{{.ImportPath}}"}, tc.patterns...)...))
		for _, d := range deps {
			for _, f := range tc.forbidden {
				if d == f || strings.HasPrefix(d, f+"/") || strings.HasSuffix(f, "/") && strings.HasPrefix(d, f) {
					t.Errorf("go list -deps %v links %s", tc.patterns, d)
				}
			}
		}
	}
}

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyHomes keeps each heavy dependency in its one package
// (DESIGN.md "Layout"): cosign/sigstore in signing, CNCF Distribution and
// logrus (which it logs through, bridged to slog there) in mirror/registry,
// Helm in manifests/render, manifests/resolve and manifests/install,
// cyclonedx-go in sbom (its test-only JSON-schema validator in
// sbom/sbomtest); and keeps the format, data and network packages leaves
// that never link them. The only packages
// of ours bundle and signing may link are the leaves mediatype (constants),
// atomicfile (publishing files; standard library only) and progress (the
// one progress event).
func TestDependencyHomes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/lattice-mesh/meshpack/"
	direct := goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...")
	homes := map[string][]string{
		"github.com/sigstore/":                     {mod + "signing"},
		"github.com/distribution/distribution/v3/": {mod + "mirror/registry"},
		"github.com/sirupsen/logrus":               {mod + "mirror/registry"},
		"helm.sh/helm/":                            {mod + "manifests/render", mod + "manifests/resolve", mod + "manifests/install", mod + "cluster"},
		"k8s.io/client-go/":                        {mod + "cluster"},
		"k8s.io/cli-runtime/":                      {mod + "cluster"},
		"github.com/CycloneDX/":                    {mod + "sbom"},
		"github.com/santhosh-tekuri/jsonschema/":   {mod + "sbom/sbomtest"},
	}
	for _, line := range strings.Split(strings.TrimSpace(direct), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		for _, imp := range fields[1:] {
			for prefix, allowed := range homes {
				if strings.HasPrefix(imp, prefix) && !contains(allowed, pkg) {
					t.Errorf("%s imports %s; only %v may", pkg, imp, allowed)
				}
			}
		}
	}
	leaves := []struct {
		pkg       string
		forbidden []string
	}{
		{mod + "bundle", []string{"helm.sh/", "github.com/sigstore/", "github.com/distribution/distribution/v3/registry", "k8s.io/", "github.com/sirupsen/logrus", mod}},
		{mod + "manifests", []string{"helm.sh/", "github.com/sigstore/", "oras.land/oras-go/v2/registry/remote", "net/http", "github.com/sirupsen/logrus", mod + "mirror", mod + "bundle"}},
		{mod + "signing", []string{mod, "helm.sh/", "github.com/distribution/distribution/v3/registry"}},
		{mod + "mirror", []string{"helm.sh/", "k8s.io/client-go"}},
		{mod + "remote", []string{"helm.sh/", "k8s.io/", "github.com/sigstore/", "github.com/distribution/distribution/v3/", "github.com/sirupsen/logrus", mod + "bundle", mod + "signing", mod + "mirror"}},
		{mod + "mediatype", []string{mod, "net/http"}},
		{mod + "atomicfile", []string{mod, "github.com/", "golang.org/", "net/"}},
		{mod + "progress", []string{mod, "net/http"}},
		{mod + "sbom", []string{"helm.sh/", "github.com/sigstore/", "github.com/distribution/distribution/v3/", "k8s.io/", "net/http", mod + "mirror", mod + "signing", mod + "remote", mod + "manifests"}},
	}
	for _, l := range leaves {
		deps := strings.Fields(goList(t, "-deps", "-f", "{{.ImportPath}}", l.pkg))
		for _, d := range deps {
			for _, f := range l.forbidden {
				if d != l.pkg && d != mod+"mediatype" && d != mod+"atomicfile" && d != mod+"progress" && strings.HasPrefix(d, f) {
					t.Errorf("%s links %s (forbidden prefix %s)", l.pkg, d, f)
				}
			}
		}
	}
}

func goList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

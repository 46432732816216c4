package resolve_test

import (
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// TestResolveOCIChartFallback: when no HTTP Helm repository serves the Istio
// charts, the resolver pins them from the catalog's OCI location (helm pull
// oci://) by manifest digest, with the chart archive's digest alongside.
func TestResolveOCIChartFallback(t *testing.T) {
	dead := "http://" + closedAddr(t)
	spec := manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient}}
	lock, err := resolveWith(t, spec, resolve.Options{Client: newClient(t, map[string]string{istioChartRepo: dead + "/istio-release/charts"})})
	if err != nil {
		t.Fatalf("Resolve with the HTTP chart repository down: %v", err)
	}
	published := map[string]struct{ oci, manifest, tgz string }{}
	for _, c := range fx.u.Charts() {
		if c.Version == istioVersion { // the fixture publishes newestPatch too
			published[c.Name] = struct{ oci, manifest, tgz string }{c.OCIReference, c.OCIDigest.String(), c.Digest.String()}
		}
	}
	if len(lock.Charts) != 4 {
		t.Fatalf("got %d charts, want base, istiod, cni, ztunnel", len(lock.Charts))
	}
	for _, c := range lock.Charts {
		want := published[c.Name]
		if !strings.HasPrefix(c.Source, "oci://gcr.io/istio-release/charts/"+c.Name+":") {
			t.Errorf("chart %s: source %s, want the OCI location", c.Name, c.Source)
		}
		if c.Digest != want.manifest || c.ContentDigest != want.tgz {
			t.Errorf("chart %s: digest %s content %s, want the published manifest %s and archive %s", c.Name, c.Digest, c.ContentDigest, want.manifest, want.tgz)
		}
	}
	found := false
	for _, n := range lock.Notes {
		found = found || strings.Contains(n, "(OCI) because no HTTP repository served it")
	}
	if !found {
		t.Errorf("notes %q do not say the charts came from the OCI location", lock.Notes)
	}
	if got := len(lock.Images); got != 4 {
		t.Errorf("got %d images, want the 4 ambient images rendered from the OCI charts", got)
	}
}

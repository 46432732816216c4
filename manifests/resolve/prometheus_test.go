package resolve_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// The images Istio 1.30.3's Prometheus manifest names.
const (
	promImage    = "docker.io/prom/prometheus:v3.10.0"
	promReloader = "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0"
)

// prometheusSHA is the catalog's pin of Istio 1.30.3's
// samples/addons/prometheus.yaml (testdata/istio-addons-1.30.3).
const prometheusSHA = "sha256:429abcb6cb74b6045d8787c66add166aa6ca77889835107bdea8dfb46dd1eca8"

// TestResolvePrometheus: a Kiali lock pins Istio's Prometheus manifest of
// the Istio version (by the catalog's sha256 when it has one) and the
// images the manifest names; kiali.prometheusURL, or no Kiali, pins none.
func TestResolvePrometheus(t *testing.T) {
	promImages := []string{promImage, promReloader}
	for _, tc := range []struct {
		name    string
		spec    manifests.Spec
		carried bool
		pinned  string // the file's Pinned
		note    string
	}{
		{name: "ambient with kiali", carried: true, pinned: manifests.PinnedCatalog,
			spec: manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient}, Kiali: manifests.KialiSpec{Enabled: true}}},
		{name: "a patch the catalog has no sha256 for", carried: true, pinned: manifests.PinnedResolved, note: "no sha256 of Istio " + newestPatch,
			spec: manifests.Spec{Istio: manifests.IstioSpec{Version: newestPatch}, Kiali: manifests.KialiSpec{Enabled: true}}},
		{name: "an existing prometheus",
			spec: manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion}, Kiali: manifests.KialiSpec{Enabled: true, PrometheusURL: "http://prometheus.monitoring:9090"}}},
		{name: "no kiali", spec: manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lock := mustResolve(t, tc.spec)
			checkAgainstFixture(t, lock)
			var files []manifests.LockedFile
			for _, f := range lock.Files {
				if f.Component == "prometheus" {
					files = append(files, f)
				}
			}
			var images []string
			for _, img := range lock.Images {
				if slices.Contains(img.Components, "prometheus") {
					images = append(images, img.Reference)
					if img.SignedBy != "" || !slices.Equal(img.Components, []string{"prometheus"}) {
						t.Errorf("image %s: signedBy %q, components %v; want unsigned, [prometheus]", img.Reference, img.SignedBy, img.Components)
					}
				}
			}
			if !tc.carried {
				if len(files)+len(images) > 0 {
					t.Fatalf("prometheus carried: files %v, images %v; want none", files, images)
				}
				return
			}
			if len(files) != 1 {
				t.Fatalf("prometheus files %v, want one", files)
			}
			f := files[0]
			wantURL := "https://raw.githubusercontent.com/istio/istio/" + lock.Set.Istio + "/samples/addons/prometheus.yaml"
			if f.Name != "prometheus.yaml" || f.Version != lock.Set.Istio || f.Source != wantURL || f.Pinned != tc.pinned {
				t.Errorf("file %+v, want prometheus.yaml of %s from %s pinned %s", f, lock.Set.Istio, wantURL, tc.pinned)
			}
			if tc.pinned == manifests.PinnedCatalog && f.Digest != prometheusSHA {
				t.Errorf("digest %s, want the catalog's %s", f.Digest, prometheusSHA)
			}
			if !slices.Equal(images, promImages) {
				t.Errorf("prometheus images %v, want %v", images, promImages)
			}
			if tc.note != "" && !strings.Contains(strings.Join(lock.Notes, "\n"), tc.note) {
				t.Errorf("notes %q lack %q", lock.Notes, tc.note)
			}
		})
	}
}

// TestResolvePrometheusRefused: a manifest that is not the catalog's, one
// without the Service Kiali reads, or a catalog without a prometheus
// section stops resolve, saying what to do.
func TestResolvePrometheusRefused(t *testing.T) {
	const raw = "https://raw.githubusercontent.com/istio/istio"
	path := "/istio/istio/" + istioVersion + "/samples/addons/prometheus.yaml"
	noSection, err := manifests.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	noSection.Prometheus = nil
	for _, tc := range []struct {
		name    string
		edit    func([]byte) []byte
		catalog *manifests.Catalog
		wantErr []string
	}{
		{name: "tampered", edit: replaceOnce(t, "scrape_interval: 15s", "scrape_interval: 1s"),
			wantErr: []string{raw + "/" + istioVersion + "/samples/addons/prometheus.yaml", prometheusSHA, "catalog pins"}},
		{name: "no service", edit: replaceOnce(t, "kind: Service\n", "kind: Endpoints\n"), catalog: func() *manifests.Catalog {
			c, _ := manifests.DefaultCatalog()
			c.Prometheus.Files = nil // pinned at resolve: the content check must still run
			return c
		}(), wantErr: []string{"no Service prometheus"}},
		{name: "no catalog section", catalog: noSection, wantErr: []string{"no prometheus section", "kiali.prometheusURL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			override := map[string]string{}
			if tc.edit != nil {
				proxy := tamperProxy(t, map[string]func([]byte) []byte{path: tc.edit})
				override[raw] = proxy.URL + "/istio/istio"
			}
			lock, err := resolveWith(t, manifests.Spec{
				Istio: manifests.IstioSpec{Version: istioVersion},
				Kiali: manifests.KialiSpec{Enabled: true},
			}, resolve.Options{Client: newClient(t, override), Catalog: tc.catalog})
			if lock != nil {
				t.Error("got a lock, want none")
			}
			wantErrContains(t, err, tc.wantErr...)
		})
	}
}

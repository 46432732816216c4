package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// Istio 1.30.3's Prometheus for Kiali (samples/addons/prometheus.yaml).
const (
	promServer   = "docker.io/prom/prometheus:v3.10.0"
	promReloader = "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0"
	promInMesh   = "http://prometheus.istio-system:9090"
)

// TestPrometheusBundle is issue 13's acceptance for Prometheus: an ambient
// + Kiali bundle carries Istio's Prometheus manifest and its images,
// pinned; bundle load puts those images into the registry; install --render
// installs the Prometheus (its Deployment runs REGISTRY/…@sha256 of the
// BOM's digests) and points Kiali at its Service. A bundle created with
// --prometheus-url carries none, and install points Kiali at that URL.
func TestPrometheusBundle(t *testing.T) {
	e := env(t)
	for _, tc := range []struct {
		name    string
		create  []string
		carried bool
		url     string // what Kiali reads
	}{
		{name: "carried", carried: true, url: promInMesh},
		{name: "existing prometheus", create: []string{"--prometheus-url", "http://prometheus.monitoring:9090"}, url: "http://prometheus.monitoring:9090"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.loadBundle(t, e.createBundle(t, tc.create...))
			digests := map[string]string{} // source -> digest of the BOM's prometheus artifacts
			for _, a := range b.bom.Artifacts {
				if a.Kind == bundle.KindImage && (a.Source == promServer || a.Source == promReloader) ||
					a.Kind == bundle.KindFile && a.Repository == "files/prometheus" {
					digests[a.Source] = a.Digest
				}
			}
			if !tc.carried {
				if len(digests) > 0 {
					t.Fatalf("the bundle carries %v, want no Prometheus", digests)
				}
			} else {
				checkPrometheusCarried(t, b, digests)
			}

			dir := filepath.Join(t.TempDir(), "render")
			_, errOut, code := runCLI(t, "", "install", "--bundle", b.path, "--registry", b.registry, "--key", e.pub(), "--render", dir)
			if code != 0 || !strings.Contains(errOut, "Kiali reads Prometheus at "+tc.url+"\n") {
				t.Fatalf("install --render: exit %d, want 0 naming Prometheus %s\n%s", code, tc.url, errOut)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			var steps []string
			for _, f := range files {
				steps = append(steps, strings.TrimSuffix(filepath.Base(f)[3:], ".yaml"))
			}
			want := []string{"gateway-api-crds", "base", "istiod", "cni", "ztunnel", "kiali-server", "phase-observability"}
			if tc.carried {
				want = slices.Insert(want, 5, "prometheus")
			}
			if !slices.Equal(steps, want) {
				t.Fatalf("rendered %v, want %v", steps, want)
			}
			kiali, err := os.ReadFile(files[len(files)-2])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(kiali), "url: "+tc.url+"\n") {
				t.Errorf("Kiali's config does not name Prometheus %s", tc.url)
			}
			if tc.carried {
				checkPrometheusRendered(t, filepath.Join(dir, "05-prometheus.yaml"), b.registry, digests)
			}
		})
	}
}

// checkPrometheusCarried checks the BOM's Prometheus: the manifest at the
// catalog's sha256, both images by the digests upstream published, each in
// the registry after bundle load.
func checkPrometheusCarried(t *testing.T, b loadedBundle, digests map[string]string) {
	t.Helper()
	const manifest = "https://raw.githubusercontent.com/istio/istio/1.30.3/samples/addons/prometheus.yaml"
	if digests[manifest] == "" {
		t.Errorf("the BOM lists no file artifact of %s", manifest)
	}
	var lock manifests.Lock
	if err := json.Unmarshal(b.bom.Lock, &lock); err != nil {
		t.Fatal(err)
	}
	var file *manifests.LockedFile
	for i, f := range lock.Files {
		if f.Component == render.ComponentPrometheus {
			file = &lock.Files[i]
		}
	}
	if file == nil || file.Source != manifest || file.Digest != "sha256:429abcb6cb74b6045d8787c66add166aa6ca77889835107bdea8dfb46dd1eca8" || file.Pinned != manifests.PinnedCatalog {
		t.Errorf("lock file %+v, want %s at the catalog's sha256", file, manifest)
	}
	for _, ref := range []string{promServer, promReloader} {
		pub, ok := e2e.u.Image(ref)
		if !ok || digests[ref] != pub.Digest.String() {
			t.Errorf("%s: bundle digest %q, upstream published %v", ref, digests[ref], pub.Digest)
			continue
		}
		repo := strings.SplitN(ref[:strings.LastIndex(ref, ":")], "/", 2)[1]
		host, prefix, _ := strings.Cut(b.registry, "/")
		req, _ := http.NewRequest(http.MethodHead, "http://"+host+"/v2/"+prefix+"/"+repo+"/manifests/"+digests[ref], nil)
		req.Header.Set("Accept", pub.MediaType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s/%s@%s after bundle load: HTTP %d", b.registry, repo, digests[ref], resp.StatusCode)
		}
	}
}

// checkPrometheusRendered checks the rendered Prometheus: its Deployment
// runs both images as REGISTRY/…@sha256 of the bundle's digests, and its
// Service is the one Kiali reads.
func checkPrometheusRendered(t *testing.T, path, registry string, digests map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.ParseObjects(string(data))
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, o := range objs {
		if o.Kind() == "Deployment" && o.Name() == "prometheus" {
			images = o.Images()
		}
	}
	slices.Sort(images)
	want := []string{
		registry + "/prom/prometheus@" + digests[promServer],
		registry + "/prometheus-operator/prometheus-config-reloader@" + digests[promReloader],
	}
	if !slices.Equal(images, want) {
		t.Errorf("Deployment prometheus runs %v, want %v", images, want)
	}
	if err := render.HasServicePort(objs, "prometheus", 9090); err != nil || !strings.Contains(string(data), "name: prometheus\n  namespace: istio-system\n") {
		t.Errorf("no Service prometheus:9090 in istio-system: %v", err)
	}
}

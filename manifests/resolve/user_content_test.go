package resolve_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// userManifest is a team's manifest: a Deployment of a fixture image and a
// ConfigMap whose text mentions an image that must not be carried.
const userManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  template:
    spec:
      containers: [{name: worker, image: "` + upstream.UserWorkerImage + `"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: notes}
data: {readme: "image: docker.io/library/not-carried:1"}
`

// TestResolveUserContent pins an HTTP chart, an OCI chart, a file and a
// manifest: the charts by the digests the fixture published, their images
// found by rendering (the tag is the chart's appVersion), the file by its
// sha256, the manifest as a file:/// source with its workload's image.
func TestResolveUserContent(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "team.yaml")
	if err := os.WriteFile(manifest, []byte(userManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("metrics: {enabled: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := manifests.Spec{
		Istio:          manifests.IstioSpec{Version: manifests.IstioNone},
		ExtraCharts:    []string{upstream.UserChartRepo + "/webapp@0.3.0", "oci://" + upstream.UserOCICharts + "/webapp@0.4.0"},
		ExtraFiles:     []string{upstream.UserFileURL},
		ExtraManifests: []string{manifest},
	}
	lock := mustResolve(t, spec)

	var httpChart, ociChart upstream.ChartInfo
	for _, c := range fx.u.Charts() {
		switch {
		case c.URL == upstream.UserChartRepo+"/webapp-0.3.0.tgz":
			httpChart = c
		case c.OCIReference == upstream.UserOCICharts+"/webapp:0.4.0":
			ociChart = c
		}
	}
	wantCharts := []manifests.LockedChart{
		{Name: "webapp", Version: "0.3.0", Source: httpChart.URL, Digest: httpChart.Digest.String(), ContentDigest: httpChart.Digest.String(), Size: httpChart.Size, Pinned: manifests.PinnedRepoIndex},
		{Name: "webapp", Version: "0.4.0", Source: "oci://" + ociChart.OCIReference, Digest: ociChart.OCIDigest.String(), ContentDigest: ociChart.Digest.String(), Size: ociChart.Size, Pinned: manifests.PinnedResolved},
	}
	if !slices.Equal(lock.Charts, wantCharts) {
		t.Errorf("charts:\n got %+v\nwant %+v", lock.Charts, wantCharts)
	}

	images := map[string][]string{}
	for _, img := range lock.Images {
		images[img.Reference] = img.Components
		pub, ok := fx.u.Image(img.Reference)
		if !ok || img.Digest != pub.Digest.String() {
			t.Errorf("image %s: pinned %s, the fixture published %v", img.Reference, img.Digest, pub.Digest)
		}
	}
	wantImages := map[string][]string{
		upstream.UserChartImage("0.3.0"): {"chart:webapp"},
		upstream.UserChartImage("0.4.0"): {"chart:webapp"},
		upstream.UserWorkerImage:         {"manifest:team.yaml"},
	}
	if !mapsEqual(images, wantImages) {
		t.Errorf("images %v, want %v (the exporter only with metrics.enabled; nothing from the ConfigMap)", images, wantImages)
	}

	sum := func(data []byte) string { return manifestsDigest(data) }
	var pubFile upstream.FileInfo
	for _, f := range fx.u.Files() {
		if f.URL == upstream.UserFileURL {
			pubFile = f
		}
	}
	wantFiles := []manifests.LockedFile{
		{Name: "mesh-dashboard.json", Component: "extra", Source: upstream.UserFileURL, Digest: pubFile.Digest.String(), Size: pubFile.Size, MediaType: "application/json", Pinned: manifests.PinnedResolved},
		{Name: "team.yaml", Component: "manifests", Source: "file://" + manifest, Digest: sum([]byte(userManifest)), Size: int64(len(userManifest)), MediaType: "application/yaml", Pinned: manifests.PinnedResolved},
	}
	if !slices.Equal(lock.Files, wantFiles) {
		t.Errorf("files:\n got %+v\nwant %+v", lock.Files, wantFiles)
	}

	// Values that turn the exporter on make rendering find it.
	spec.ExtraChartValues = map[string]string{"webapp": values}
	withValues := mustResolve(t, spec)
	if !slices.ContainsFunc(withValues.Images, func(i manifests.LockedImage) bool { return i.Reference == upstream.UserExporterImage }) {
		t.Errorf("with metrics.enabled the lock has no %s", upstream.UserExporterImage)
	}
}

// TestResolveUserContentErrors: each failure names the artifact and what
// to do; a file whose sha256 is not the spec's says expected, got and URL.
func TestResolveUserContentErrors(t *testing.T) {
	wrong := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name  string
		spec  manifests.Spec
		is    error
		parts []string
	}{
		{
			name:  "sha256 mismatch",
			spec:  manifests.Spec{Istio: manifests.IstioSpec{Version: "none"}, ExtraFiles: []string{upstream.UserFileURL + "#sha256=" + wrong}},
			is:    resolve.ErrChecksumMismatch,
			parts: []string{"extra file " + upstream.UserFileURL, "expected sha256 " + wrong, "got "},
		},
		{
			name:  "chart version not published",
			spec:  manifests.Spec{Istio: manifests.IstioSpec{Version: "none"}, ExtraCharts: []string{upstream.UserChartRepo + "/webapp@9.9.9"}},
			parts: []string{"extra chart " + upstream.UserChartRepo + "/webapp@9.9.9", "not in the repository index"},
		},
		{
			name:  "oci chart not published",
			spec:  manifests.Spec{Istio: manifests.IstioSpec{Version: "none"}, ExtraCharts: []string{"oci://" + upstream.UserOCICharts + "/webapp@9.9.9"}},
			parts: []string{"extra chart oci://" + upstream.UserOCICharts + "/webapp@9.9.9"},
		},
		{
			name:  "file missing upstream",
			spec:  manifests.Spec{Istio: manifests.IstioSpec{Version: "none"}, ExtraFiles: []string{upstream.UserSite + "/files/nope.json"}},
			parts: []string{"extra file " + upstream.UserSite + "/files/nope.json", "404"},
		},
		{
			name:  "local manifest missing",
			spec:  manifests.Spec{Istio: manifests.IstioSpec{Version: "none"}, ExtraManifests: []string{"/nonexistent/app.yaml"}},
			parts: []string{"extra manifest file:///nonexistent/app.yaml", "no such file"},
		},
		{
			name:  "chart named like a mesh chart",
			spec:  manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion}, GatewayAPI: manifests.GatewayAPI{Enabled: new(bool)}, ExtraCharts: []string{istioChartRepo + "/istiod@1.30.3"}},
			parts: []string{"extra chart " + istioChartRepo + "/istiod@1.30.3", "the mesh carries a chart named istiod"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveWith(t, tc.spec, resolve.Options{Client: newClient(t, nil)})
			wantErrContains(t, err, tc.parts...)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
	// The right sha256 pins the file as the spec's.
	var pub upstream.FileInfo
	for _, f := range fx.u.Files() {
		if f.URL == upstream.UserFileURL {
			pub = f
		}
	}
	lock := mustResolve(t, manifests.Spec{Istio: manifests.IstioSpec{Version: "none"}, ExtraFiles: []string{upstream.UserFileURL + "#sha256=" + pub.Digest.Encoded()}})
	if len(lock.Files) != 1 || lock.Files[0].Pinned != manifests.PinnedSpec || lock.Files[0].Digest != pub.Digest.String() {
		t.Errorf("files %+v, want %s pinned by the spec", lock.Files, pub.Digest)
	}
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

func manifestsDigest(data []byte) string { return digest.FromBytes(data).String() }

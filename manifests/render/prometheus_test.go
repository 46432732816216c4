package render

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestDiscoverPrometheusImages reads the real samples/addons/prometheus.yaml
// of three Istio minors: the server and its config reloader, normalized,
// for component prometheus; a manifest without the Service Kiali reads, or
// without images, is refused.
func TestDiscoverPrometheusImages(t *testing.T) {
	for _, tc := range []struct {
		istio  string
		edit   func(string) string
		images []string
		err    string
	}{
		{istio: "1.30.3", images: []string{"docker.io/prom/prometheus:v3.10.0", "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0"}},
		{istio: "1.29.6", images: []string{"docker.io/prom/prometheus:v3.8.1", "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.87.1"}},
		{istio: "1.28.10", images: []string{"docker.io/prom/prometheus:v3.5.0", "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.85.0"}},
		{istio: "1.30.3", edit: func(s string) string {
			return strings.Replace(s, "name: prometheus\n  namespace: istio-system\nspec:\n  ports:", "name: prom\n  namespace: istio-system\nspec:\n  ports:", 1)
		},
			err: "no Service prometheus"},
		{istio: "1.30.3", edit: func(s string) string { return strings.ReplaceAll(s, "image: ", "imageRef: ") }, err: "no workload with an image"},
	} {
		t.Run(tc.istio, func(t *testing.T) {
			data, err := os.ReadFile("../../testdata/istio-addons-" + tc.istio + "/prometheus.yaml")
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			if tc.edit != nil {
				if text = tc.edit(text); text == string(data) {
					t.Fatal("the edit changed nothing")
				}
			}
			imgs, err := DiscoverPrometheusImages([]byte(text), "prometheus", 9090)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range imgs {
				got = append(got, img.Reference)
				if !slices.Equal(img.Components, []string{ComponentPrometheus}) {
					t.Errorf("%s: components %v", img.Reference, img.Components)
				}
			}
			if !slices.Equal(got, tc.images) {
				t.Errorf("images %v, want %v", got, tc.images)
			}
		})
	}
}

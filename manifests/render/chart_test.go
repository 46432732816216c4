package render

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStampIstioChart(t *testing.T) {
	tests := []struct {
		chart string
		path  []string // where the chart keeps its default hub and tag
	}{
		{ChartIstiod, []string{"_internal_defaults_do_not_set", "global"}},
		{ChartCNI, []string{"_internal_defaults_do_not_set", "global"}},
		{ChartZtunnel, []string{"_internal_defaults_do_not_set"}},
	}
	for _, tt := range tests {
		t.Run(tt.chart, func(t *testing.T) {
			ch, err := StampIstioChart(istioSrc+"/"+tt.chart, "1.29.6", "docker.io/istio")
			if err != nil {
				t.Fatalf("StampIstioChart: %v", err)
			}
			if ch.Metadata.Version != "1.29.6" || ch.Metadata.AppVersion != "1.29.6" {
				t.Errorf("version %s appVersion %s, want 1.29.6", ch.Metadata.Version, ch.Metadata.AppVersion)
			}
			if got := lookup(ch.Values, append(tt.path, "hub")...); got != "docker.io/istio" {
				t.Errorf("hub: got %v, want docker.io/istio", got)
			}
			if got := lookup(ch.Values, append(tt.path, "tag")...); got != "1.29.6" {
				t.Errorf("tag: got %v, want 1.29.6", got)
			}
		})
	}
	if _, err := StampIstioChart(istioSrc+"/istiod", "", "docker.io/istio"); err == nil {
		t.Error("StampIstioChart without a version: got nil error")
	}
}

func TestPackageChart(t *testing.T) {
	charts := publishedCharts(t)
	for _, name := range allCharts {
		t.Run(name, func(t *testing.T) {
			tgz, err := PackageChart(charts[name])
			if err != nil {
				t.Fatalf("PackageChart: %v", err)
			}
			again, err := PackageChart(charts[name])
			if err != nil || !bytes.Equal(tgz, again) {
				t.Errorf("PackageChart is not deterministic (err %v)", err)
			}
			back, err := LoadChartArchive(bytes.NewReader(tgz))
			if err != nil {
				t.Fatalf("LoadChartArchive: %v", err)
			}
			if back.Name() != name || back.Metadata.Version != istioVersion {
				t.Errorf("reloaded %s %s, want %s %s", back.Name(), back.Metadata.Version, name, istioVersion)
			}
			if diff := cmp.Diff(charts[name].Values, back.Values); diff != "" {
				t.Errorf("values changed by packaging (-want +got):\n%s", diff)
			}
			if len(back.Templates) != len(charts[name].Templates) || len(back.Files) != len(charts[name].Files) {
				t.Errorf("got %d templates %d files, want %d and %d", len(back.Templates), len(back.Files), len(charts[name].Templates), len(charts[name].Files))
			}
		})
	}
}

func TestValuesFor(t *testing.T) {
	img := map[string]any{"hub": "docker.io/istio", "tag": "1.30.3"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range m {
			out[a] = b
		}
		out[k] = v
		return out
	}
	tests := []struct {
		name      string
		component string
		req       IstioRequest
		want      map[string]any
	}{
		{"istiod sidecar", ChartIstiod, IstioRequest{}, map[string]any{"global": img}},
		{"istiod sidecar cni", ChartIstiod, IstioRequest{CNI: true}, map[string]any{"global": img, "cni": map[string]any{"enabled": true}}},
		{"istiod ambient", ChartIstiod, IstioRequest{Profile: ProfileAmbient}, map[string]any{"global": img, "profile": "ambient"}},
		{"istiod ambient default", ChartIstiod, IstioRequest{Profile: ProfileAmbient, Variant: VariantDefault},
			map[string]any{"global": with(img, "variant", ""), "profile": "ambient"}},
		{"cni sidecar distroless", ChartCNI, IstioRequest{Variant: VariantDistroless}, map[string]any{"global": with(img, "variant", "distroless")}},
		{"ztunnel", ChartZtunnel, IstioRequest{Profile: ProfileAmbient},
			map[string]any{"hub": "docker.io/istio", "tag": "1.30.3", "profile": "ambient"}},
		{"gateway", ChartGateway, IstioRequest{Profile: ProfileAmbient}, map[string]any{}},
		{"base", ChartBase, IstioRequest{}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Version, req.Hub = istioVersion, dockerHub
			if diff := cmp.Diff(tt.want, ValuesFor(tt.component, req)); diff != "" {
				t.Errorf("ValuesFor (-want +got):\n%s", diff)
			}
		})
	}
}

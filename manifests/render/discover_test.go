package render

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/manifests"
)

const (
	istioSrc     = "../../testdata/charts/istio-1.30.3"
	kialiTgz     = "../../testdata/charts/kiali-server-2.26.0.tgz"
	releaseHub   = "registry.istio.io/release" // what published 1.30.x charts embed (istio-facts §2.2)
	dockerHub    = "docker.io/istio"
	istioVersion = "1.30.3"
)

var allCharts = []string{ChartBase, ChartIstiod, ChartCNI, ChartZtunnel, ChartGateway}

// publishedCharts stamps the real 1.30.3 source charts as Istio's release did.
func publishedCharts(t *testing.T) map[string]*chart.Chart {
	t.Helper()
	charts, err := StampIstioCharts(istioSrc, allCharts, istioVersion, releaseHub)
	if err != nil {
		t.Fatalf("StampIstioCharts: %v", err)
	}
	return charts
}

func refs(imgs []Image) []string {
	out := make([]string, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, img.Reference)
	}
	return out
}

func TestDiscoverIstioImages(t *testing.T) {
	charts := publishedCharts(t)
	cat, err := manifests.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	h := dockerHub + "/"
	tests := []struct {
		name string
		req  IstioRequest
		want []string
	}{
		{name: "sidecar", req: IstioRequest{},
			want: []string{h + "pilot:1.30.3", h + "proxyv2:1.30.3"}},
		{name: "sidecar with gateway", req: IstioRequest{IngressGateway: true},
			want: []string{h + "pilot:1.30.3", h + "proxyv2:1.30.3"}},
		{name: "sidecar with cni", req: IstioRequest{CNI: true},
			want: []string{h + "install-cni:1.30.3", h + "pilot:1.30.3", h + "proxyv2:1.30.3"}},
		{name: "sidecar distroless with cni and gateway", req: IstioRequest{Variant: VariantDistroless, CNI: true, IngressGateway: true},
			want: []string{h + "install-cni:1.30.3-distroless", h + "pilot:1.30.3-distroless", h + "proxyv2:1.30.3-distroless"}},
		{name: "ambient", req: IstioRequest{Profile: ProfileAmbient},
			want: []string{h + "install-cni:1.30.3-distroless", h + "pilot:1.30.3-distroless", h + "proxyv2:1.30.3-distroless", h + "ztunnel:1.30.3-distroless"}},
		{name: "ambient distroless with gateway", req: IstioRequest{Profile: ProfileAmbient, Variant: VariantDistroless, IngressGateway: true},
			want: []string{h + "install-cni:1.30.3-distroless", h + "pilot:1.30.3-distroless", h + "proxyv2:1.30.3-distroless", h + "ztunnel:1.30.3-distroless"}},
		{name: "ambient default variant overrides the profile", req: IstioRequest{Profile: ProfileAmbient, Variant: VariantDefault},
			want: []string{h + "install-cni:1.30.3", h + "pilot:1.30.3", h + "proxyv2:1.30.3", h + "ztunnel:1.30.3"}},
		{name: "ambient with agentgateway", req: IstioRequest{Profile: ProfileAmbient, Agentgateway: true, IngressGateway: true},
			want: []string{h + "agentgateway:1.30.3-distroless", h + "install-cni:1.30.3-distroless", h + "pilot:1.30.3-distroless",
				h + "proxyv2:1.30.3-distroless", h + "ztunnel:1.30.3-distroless"}},
		{name: "sidecar on kubernetes 1.36", req: IstioRequest{KubeVersion: "1.36"},
			want: []string{h + "pilot:1.30.3", h + "proxyv2:1.30.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Version, req.Hub = istioVersion, dockerHub
			imgs, err := DiscoverIstioImages(charts, req)
			if err != nil {
				t.Fatalf("DiscoverIstioImages: %v", err)
			}
			if diff := cmp.Diff(tt.want, refs(imgs)); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			variants := []string{req.Variant}
			if req.Variant == "" {
				variants = nil
			}
			expected, err := cat.ExpectedImages(istioVersion, manifests.ImageOptions{Profile: req.Profile, Variants: variants, CNI: req.CNI, Agentgateway: req.Agentgateway})
			if err != nil {
				t.Fatal(err)
			}
			var exp []string
			for _, e := range expected {
				exp = append(exp, e.Reference)
			}
			if missing, extra := CompareWithCatalog(imgs, exp); len(missing)+len(extra) > 0 {
				t.Errorf("rendering and catalog disagree: missing %q, extra %q", missing, extra)
			}
		})
	}
}

func TestDiscoverIstioImagesOrigins(t *testing.T) {
	req := IstioRequest{Version: istioVersion, Hub: dockerHub, Profile: ProfileAmbient}
	imgs, err := DiscoverIstioImages(publishedCharts(t), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{
		{Reference: "docker.io/istio/install-cni:1.30.3-distroless", Components: []string{"cni"},
			Origin: "rendered:cni/templates/daemonset.yaml", Origins: []string{"rendered:cni/templates/daemonset.yaml"}},
		{Reference: "docker.io/istio/pilot:1.30.3-distroless", Components: []string{"istiod"},
			Origin: "rendered:istiod/templates/deployment.yaml", Origins: []string{"rendered:istiod/templates/deployment.yaml"}},
		{Reference: "docker.io/istio/proxyv2:1.30.3-distroless", Components: []string{"gateway", "sidecar-injector", "waypoint"},
			Origin: "injected:global.proxy.image", Origins: []string{"injected:global.proxy.image", "injected:global.proxy_init.image"}},
		{Reference: "docker.io/istio/ztunnel:1.30.3-distroless", Components: []string{"ztunnel"},
			Origin: "rendered:ztunnel/templates/daemonset.yaml", Origins: []string{"rendered:ztunnel/templates/daemonset.yaml"}},
	}
	if diff := cmp.Diff(want, imgs); diff != "" {
		t.Errorf("DiscoverIstioImages (-want +got):\n%s", diff)
	}
}

// TestDiscoverHonoursHub shows why the resolver passes Hub: published 1.30.x
// charts would otherwise pull from registry.istio.io, which is going away.
func TestDiscoverHonoursHub(t *testing.T) {
	imgs, err := DiscoverIstioImages(publishedCharts(t), IstioRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{releaseHub + "/pilot:1.30.3", releaseHub + "/proxyv2:1.30.3"}
	if diff := cmp.Diff(want, refs(imgs)); diff != "" {
		t.Errorf("images with the charts' own hub (-want +got):\n%s", diff)
	}
}

func TestDiscoverIstioImagesErrors(t *testing.T) {
	charts := publishedCharts(t)
	noZtunnel := map[string]*chart.Chart{}
	for k, v := range charts {
		if k != ChartZtunnel {
			noZtunnel[k] = v
		}
	}
	oldIstiod := *charts[ChartIstiod]
	oldIstiod.Files = nil
	for _, f := range charts[ChartIstiod].Files {
		if f.Name != "files/agentgateway.yaml" {
			oldIstiod.Files = append(oldIstiod.Files, f)
		}
	}
	withOld := map[string]*chart.Chart{}
	for k, v := range charts {
		withOld[k] = v
	}
	withOld[ChartIstiod] = &oldIstiod
	tests := []struct {
		name   string
		charts map[string]*chart.Chart
		req    IstioRequest
		want   string
	}{
		{"missing ztunnel", noZtunnel, IstioRequest{Profile: ProfileAmbient},
			`istio chart "ztunnel": missing; this install renders base, istiod, cni, ztunnel`},
		{"bad profile", charts, IstioRequest{Profile: "sidecars"}, `istio profile "sidecars": want sidecar or ambient`},
		{"bad variant", charts, IstioRequest{Variant: "both"}, `istio variant "both": want default or distroless`},
		{"agentgateway before 1.29", withOld, IstioRequest{Agentgateway: true}, "has no agentgateway template; agentgateway needs Istio 1.29 or later"},
		{"bad kube version", charts, IstioRequest{KubeVersion: "latest"}, `kubernetes version "latest": want a version like 1.32`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Version, tt.req.Hub = istioVersion, dockerHub
			_, err := DiscoverIstioImages(tt.charts, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func loadKiali(t *testing.T) *chart.Chart {
	t.Helper()
	f, err := os.Open(kialiTgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ch, err := LoadChartArchive(f)
	if err != nil {
		t.Fatalf("LoadChartArchive: %v", err)
	}
	return ch
}

func TestDiscoverKialiImages(t *testing.T) {
	dir, err := LoadChartDir("../../testdata/charts/kiali-server-2.26.0")
	if err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]*chart.Chart{"archive": loadKiali(t), "directory": dir} {
		t.Run(name, func(t *testing.T) {
			imgs, err := DiscoverKialiImages(ch, "v2.26.0")
			if err != nil {
				t.Fatalf("DiscoverKialiImages: %v", err)
			}
			want := []Image{{Reference: "quay.io/kiali/kiali:v2.26.0", Components: []string{"kiali"},
				Origin: "rendered:kiali-server/templates/deployment.yaml", Origins: []string{"rendered:kiali-server/templates/deployment.yaml"}}}
			if diff := cmp.Diff(want, imgs); diff != "" {
				t.Errorf("DiscoverKialiImages (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := DiscoverKialiImages(loadKiali(t), "2.27.0"); err == nil || !strings.Contains(err.Error(), "not the chart of kiali 2.27.0") {
		t.Errorf("DiscoverKialiImages(2.27.0) on the 2.26.0 chart: got %v", err)
	}
}

func TestCompareWithCatalog(t *testing.T) {
	got := []Image{{Reference: "docker.io/istio/pilot:1.30.3"}, {Reference: "docker.io/istio/ztunnel:1.30.3"}}
	missing, extra := CompareWithCatalog(got, []string{"istio/pilot:1.30.3", "docker.io/istio/proxyv2:1.30.3"})
	if diff := cmp.Diff([]string{"docker.io/istio/proxyv2:1.30.3"}, missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"docker.io/istio/ztunnel:1.30.3"}, extra); diff != "" {
		t.Errorf("extra (-want +got):\n%s", diff)
	}
}

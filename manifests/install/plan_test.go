package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

const (
	testRegistry = "reg.local:5000/mesh"
	testdata     = "../../testdata"
)

// fakeSource serves the real charts (and Istio's Prometheus manifest) in
// testdata with a synthetic BOM.
type fakeSource struct {
	bom    *bundle.BOM
	charts map[string]*chart.Chart
	crds   []byte
	prom   []byte
}

func (f *fakeSource) BOM() (*bundle.BOM, error) { return f.bom, nil }
func (f *fakeSource) Chart(_ context.Context, a bundle.Artifact) (*chart.Chart, error) {
	return f.charts[a.Name], nil
}
func (f *fakeSource) File(_ context.Context, a bundle.Artifact) ([]byte, error) {
	if a.Repository == "files/prometheus" {
		return f.prom, nil
	}
	return f.crds, nil
}

func fakeDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newFake builds a bundle-like source for profile, without the images in
// drop; it carries Istio 1.30.3's Prometheus manifest (and its images)
// unless drop has "prometheus.yaml".
func newFake(t *testing.T, profile string, gateway bool, drop ...string) *fakeSource {
	t.Helper()
	variant := ""
	if profile == render.ProfileAmbient {
		variant = "-distroless"
	}
	names := []string{"base", "istiod", "cni", "ztunnel"}
	if gateway {
		names = append(names, "gateway")
	}
	charts, err := render.StampIstioCharts(filepath.Join(testdata, "charts", "istio-1.30.3"), names, "1.30.3", "docker.io/istio")
	if err != nil {
		t.Fatal(err)
	}
	if charts["kiali-server"], err = render.LoadChartDir(filepath.Join(testdata, "charts", "kiali-server-2.26.0")); err != nil {
		t.Fatal(err)
	}
	crds, err := os.ReadFile(filepath.Join(testdata, "gateway-api-v1.5.1", "gateway.networking.k8s.io_gateways.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lock := manifests.Lock{Set: manifests.ResolvedSet{Istio: "1.30.3", Profile: profile, Kiali: "2.26.0", GatewayAPI: "v1.5.1", GatewayAPIChannel: "standard"}}
	bom := &bundle.BOM{}
	for _, img := range []string{"pilot", "proxyv2", "install-cni", "ztunnel"} {
		src := "docker.io/istio/" + img + ":1.30.3" + variant
		lock.Images = append(lock.Images, manifests.LockedImage{Name: img, Reference: src})
		if !slices.Contains(drop, img) {
			bom.Artifacts = append(bom.Artifacts, bundle.Artifact{Kind: bundle.KindImage, Name: img, Source: src, Repository: "istio/" + img, Digest: fakeDigest(src)})
		}
	}
	if !slices.Contains(drop, "kiali") {
		bom.Artifacts = append(bom.Artifacts, bundle.Artifact{Kind: bundle.KindImage, Name: "kiali", Source: "quay.io/kiali/kiali:v2.26.0", Repository: "kiali/kiali", Digest: fakeDigest("kiali")})
	}
	var prom []byte
	if !slices.Contains(drop, "prometheus.yaml") {
		if prom, err = os.ReadFile(filepath.Join(testdata, "istio-addons-1.30.3", "prometheus.yaml")); err != nil {
			t.Fatal(err)
		}
		lock.Files = append(lock.Files, manifests.LockedFile{Name: "prometheus.yaml", Component: "prometheus", Version: "1.30.3"})
		bom.Artifacts = append(bom.Artifacts, bundle.Artifact{Kind: bundle.KindFile, Name: "prometheus.yaml", Repository: "files/prometheus"})
		for name, src := range map[string]string{
			"prometheus":                 "docker.io/prom/prometheus:v3.10.0",
			"prometheus-config-reloader": "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0",
		} {
			if !slices.Contains(drop, name) {
				repo := strings.SplitN(src, "/", 2)[1]
				bom.Artifacts = append(bom.Artifacts, bundle.Artifact{Kind: bundle.KindImage, Name: name, Source: src, Repository: repo[:strings.LastIndex(repo, ":")], Digest: fakeDigest(src)})
			}
		}
	}
	for n := range charts {
		bom.Artifacts = append(bom.Artifacts, bundle.Artifact{Kind: bundle.KindChart, Name: n, Repository: "charts/" + n})
	}
	bom.Artifacts = append(bom.Artifacts, bundle.Artifact{Kind: bundle.KindFile, Name: "standard-install.yaml", Repository: "files/gateway-api"})
	if bom.Lock, err = json.Marshal(lock); err != nil {
		t.Fatal(err)
	}
	return &fakeSource{bom: bom, charts: charts, crds: crds, prom: prom}
}

// pinnedRefs are the references the fake BOM allows, for mode.
func pinnedRefs(src *fakeSource, mode string) map[string]bool {
	out := map[string]bool{}
	for _, a := range src.bom.Artifacts {
		if a.Kind == bundle.KindImage {
			out[targetRepo(testRegistry, a.Repository, mode)+"@"+a.Digest] = true
		}
	}
	return out
}

func stepNames(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Name)
	}
	return out
}

func TestPlan(t *testing.T) {
	all := []string{StepCRDs, "base", "istiod", "cni", "ztunnel", "gateway", StepPrometheus, "kiali-server"}
	for _, tc := range []struct {
		name    string
		profile string
		gateway bool
		opts    Options
		steps   []string
	}{
		{"ambient keep", render.ProfileAmbient, true, Options{}, all},
		{"ambient flatten", render.ProfileAmbient, true, Options{PathMode: PathFlatten}, all},
		{"sidecar", render.ProfileSidecar, false, Options{}, []string{StepCRDs, "base", "istiod", StepPrometheus, "kiali-server"}},
		{"sidecar cni", render.ProfileSidecar, true, Options{CNI: true}, []string{StepCRDs, "base", "istiod", "cni", "gateway", StepPrometheus, "kiali-server"}},
		{"sidecar flatten other namespace", render.ProfileSidecar, true, Options{PathMode: PathFlatten, Namespace: "mesh", PrometheusURL: "http://prom.mon:9090"},
			[]string{StepCRDs, "base", "istiod", "gateway", "kiali-server"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFake(t, tc.profile, tc.gateway)
			opts := tc.opts
			opts.Registry = testRegistry
			p, err := NewPlan(context.Background(), src, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := stepNames(p); !slices.Equal(got, tc.steps) {
				t.Fatalf("steps = %v, want %v", got, tc.steps)
			}
			ms, err := p.Manifests(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			pinned := pinnedRefs(src, opts.PathMode)
			seen := map[string]bool{}
			for i, m := range ms {
				if want := tc.steps[i]; m.Step != want || m.File != fmt.Sprintf("%02d-%s.yaml", i, want) {
					t.Errorf("manifest %d = %s (%s), want step %s", i, m.File, m.Step, want)
				}
				for _, img := range renderedImages(t, m) {
					if img == "auto" && m.Step == "gateway" {
						continue
					}
					seen[img] = true
					if !pinned[DigestOnly(img)] {
						t.Errorf("%s: image %q is not a pinned BOM reference", m.File, img)
					}
				}
				if m.Step == "kiali-server" {
					want := opts.PrometheusURL
					if want == "" {
						want = DefaultPrometheusURL
					}
					if !strings.Contains(string(m.Data), want) {
						t.Errorf("kiali-server: Prometheus URL %s not rendered", want)
					}
				}
			}
			if len(seen) < 3 {
				t.Errorf("only %d pinned images seen: %v", len(seen), seen)
			}
		})
	}
}

// renderedImages returns every workload image and every ConfigMap image
// value (istiod's injector values) of a manifest.
func renderedImages(t *testing.T, m Manifest) []string {
	t.Helper()
	objs, err := render.Rendered{m.File: string(m.Data)}.Objects()
	if err != nil {
		t.Fatalf("%s: %v", m.File, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Images()...)
		if o.Kind() != "ConfigMap" {
			continue
		}
		data, _ := o.Data["data"].(map[string]any)
		for _, v := range data {
			var vals map[string]any
			if s, _ := v.(string); json.Unmarshal([]byte(s), &vals) == nil {
				out = append(out, ImageValues(vals)...)
			}
		}
	}
	return out
}

func TestPlanMissingDigest(t *testing.T) {
	for _, tc := range []struct {
		profile, drop, want string
	}{
		{render.ProfileAmbient, "ztunnel", "docker.io/istio/ztunnel:1.30.3-distroless"},
		{render.ProfileAmbient, "proxyv2", "docker.io/istio/proxyv2:1.30.3-distroless"},
		{render.ProfileSidecar, "pilot", "docker.io/istio/pilot:1.30.3"},
		{render.ProfileSidecar, "kiali", "quay.io/kiali/kiali:v2.26.0"},
	} {
		t.Run(tc.drop, func(t *testing.T) {
			_, err := NewPlan(context.Background(), newFake(t, tc.profile, false, tc.drop), Options{Registry: testRegistry})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no registry", Options{}, "want HOST"},
		{"scheme", Options{Registry: "https://reg"}, "want HOST"},
		{"mode", Options{Registry: "reg", PathMode: "flat"}, "path mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(context.Background(), newFake(t, render.ProfileSidecar, false), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	p, err := NewPlan(context.Background(), newFake(t, render.ProfileAmbient, true), Options{Registry: testRegistry})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		prepare func(dir string)
		want    []string
		err     string
	}{
		{"empty dir", func(string) {}, []string{"00-gateway-api-crds.yaml", "01-base.yaml", "02-istiod.yaml", "03-cni.yaml", "04-ztunnel.yaml", "05-gateway.yaml", "06-prometheus.yaml", "07-kiali-server.yaml"}, ""},
		{"previous render", func(d string) { _ = os.WriteFile(filepath.Join(d, "08-old.yaml"), nil, 0o644) }, nil, "08-old.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.prepare(dir)
			_, err := Render(context.Background(), p, dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dir)
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("files = %v, want %v", got, tc.want)
			}
		})
	}
}

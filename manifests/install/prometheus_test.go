package install

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// TestPlanPrometheus: a bundle carrying Istio's Prometheus manifest installs
// it before Kiali, in the control plane's namespace, every image pinned, and
// Kiali reads its Service; Options.PrometheusURL, or a bundle built for an
// existing Prometheus, installs none and points Kiali there.
func TestPlanPrometheus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drop    []string // fake bundle: images or "prometheus.yaml" left out
		specURL string   // the bundle's kiali.prometheusURL
		opts    Options
		carried bool   // a prometheus step is planned
		url     string // what Kiali reads
		ns      string // where Prometheus runs
	}{
		{name: "carried", carried: true, url: "http://prometheus.istio-system:9090", ns: "istio-system"},
		{name: "carried, other namespace, flatten, pull secret", opts: Options{Namespace: "mesh", PathMode: PathFlatten, ImagePullSecret: "enclave-pull"},
			carried: true, url: "http://prometheus.mesh:9090", ns: "mesh"},
		{name: "install names another", opts: Options{PrometheusURL: "http://prom.monitoring:9090"}, url: "http://prom.monitoring:9090"},
		{name: "bundle built for an existing one", drop: []string{"prometheus.yaml"}, specURL: "https://prom.example:9443", url: "https://prom.example:9443"},
		{name: "old bundle without one", drop: []string{"prometheus.yaml"}, url: DefaultPrometheusURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFake(t, render.ProfileAmbient, false, tc.drop...)
			if tc.specURL != "" {
				var lock manifests.Lock
				if err := json.Unmarshal(src.bom.Lock, &lock); err != nil {
					t.Fatal(err)
				}
				lock.Spec.Kiali.PrometheusURL = tc.specURL
				src.bom.Lock, _ = json.Marshal(lock)
			}
			opts := tc.opts
			opts.Registry = testRegistry
			p, err := NewPlan(context.Background(), src, opts)
			if err != nil {
				t.Fatal(err)
			}
			steps := stepNames(p)
			if got := slices.Contains(steps, StepPrometheus); got != tc.carried {
				t.Fatalf("steps %v: prometheus planned = %v, want %v", steps, got, tc.carried)
			}
			if p.PrometheusURL != tc.url {
				t.Errorf("PrometheusURL = %q, want %q", p.PrometheusURL, tc.url)
			}
			ms, err := p.Manifests(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			kiali := ms[len(ms)-1]
			if kiali.Step != "kiali-server" || !strings.Contains(string(kiali.Data), "url: "+tc.url) {
				t.Errorf("%s does not configure Kiali's Prometheus URL %s", kiali.File, tc.url)
			}
			if !tc.carried {
				return
			}
			prom := ms[len(ms)-2]
			if prom.Step != StepPrometheus {
				t.Fatalf("the step before kiali-server is %s, want prometheus", prom.Step)
			}
			checkPrometheusManifest(t, prom, pinnedRefs(src, opts.PathMode), tc.ns, opts.ImagePullSecret)
			s := p.Steps[len(p.Steps)-2]
			if s.Release != "prometheus" || s.Namespace != tc.ns || s.Chart.Metadata.Version != "1.30.3" || s.Chart.Metadata.AppVersion != "v3.10.0" {
				t.Errorf("release %s/%s chart %s app %s, want %s/prometheus chart 1.30.3 app v3.10.0",
					s.Namespace, s.Release, s.Chart.Metadata.Version, s.Chart.Metadata.AppVersion, tc.ns)
			}
		})
	}
}

// checkPrometheusManifest checks the rendered Prometheus: both images
// pinned, every namespaced object (and the ClusterRoleBinding's
// ServiceAccount) in ns, the Service Kiali reads, the pull secret.
func checkPrometheusManifest(t *testing.T, m Manifest, pinned map[string]bool, ns, secret string) {
	t.Helper()
	objs, err := render.ParseObjects(string(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, o := range objs {
		images = append(images, o.Images()...)
		md, _ := o.Data["metadata"].(map[string]any)
		switch o.Kind() {
		case "ClusterRole":
		case "ClusterRoleBinding":
			subj := o.Data["subjects"].([]any)[0].(map[string]any)
			if subj["namespace"] != ns {
				t.Errorf("ClusterRoleBinding subject namespace %v, want %s", subj["namespace"], ns)
			}
		default:
			if md["namespace"] != ns {
				t.Errorf("%s %s in namespace %v, want %s", o.Kind(), o.Name(), md["namespace"], ns)
			}
		}
	}
	if err := render.HasServicePort(objs, PrometheusService, PrometheusPort); err != nil {
		t.Error(err)
	}
	if len(images) != 2 {
		t.Errorf("images %v, want the server and the config reloader", images)
	}
	for _, img := range images {
		if !pinned[img] {
			t.Errorf("image %s is not a pinned BOM reference", img)
		}
	}
	if secret != "" && !strings.Contains(string(m.Data), "imagePullSecrets:\n      - name: "+secret) {
		t.Errorf("the Deployment does not pull with %s", secret)
	}
}

// TestPlanPrometheusRefused: a carried manifest whose image the BOM lacks,
// or without the Service Kiali reads, fails the plan naming the problem; so
// does a Prometheus URL that is not one.
func TestPlanPrometheusRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop []string
		edit func([]byte) []byte
		opts Options
		want string
	}{
		{name: "image missing", drop: []string{"prometheus"}, want: "docker.io/prom/prometheus:v3.10.0 has no digest in the bundle's BOM"},
		{name: "reloader missing", drop: []string{"prometheus-config-reloader"}, want: "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0"},
		{name: "no service", edit: func(b []byte) []byte {
			return []byte(strings.ReplaceAll(string(b), "kind: Service\n", "kind: Endpoints\n"))
		},
			want: "no Service prometheus"},
		{name: "other port", edit: func(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), "port: 9090", "port: 9091")) },
			want: "Service prometheus does not expose port 9090"},
		{name: "bad URL", opts: Options{PrometheusURL: "prometheus:9090"}, want: "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFake(t, render.ProfileSidecar, false, tc.drop...)
			if tc.edit != nil {
				src.prom = tc.edit(src.prom)
			}
			opts := tc.opts
			opts.Registry = testRegistry
			_, err := NewPlan(context.Background(), src, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

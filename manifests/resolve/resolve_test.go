package resolve_test

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/progress"
)

// hub is the Istio image hub the catalog pins for every version.
const hub = "docker.io/istio/"

// off is a *bool false, for GatewayAPI.Enabled.
func off() *bool { f := false; return &f }

// TestResolveMesh resolves mesh specs against the fixture upstream and
// checks the exact pinned set and every digest against what was published.
func TestResolveMesh(t *testing.T) {
	repoIndex := manifests.PinnedRepoIndex
	tests := []struct {
		name       string
		spec       manifests.Spec
		wantSet    manifests.ResolvedSet
		wantImages []string
		// wantCharts maps chart name to how its digest was pinned.
		wantCharts map[string]string
		wantFiles  []string
		// wantComponents checks the components of some images.
		wantComponents map[string][]string
	}{
		{
			name: "ambient with kiali",
			spec: manifests.Spec{
				Istio: manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient},
				Kiali: manifests.KialiSpec{Enabled: true},
			},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "ambient", Variants: []string{"distroless"},
				Kiali: kialiVersion, GatewayAPI: gatewayAPI, GatewayAPIChannel: "standard",
				Kubernetes: manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
			},
			wantImages: []string{
				hub + "install-cni:1.30.3-distroless", hub + "pilot:1.30.3-distroless",
				hub + "proxyv2:1.30.3-distroless", hub + "ztunnel:1.30.3-distroless",
				promImage, promReloader, "quay.io/kiali/kiali:v2.26.0",
			},
			wantCharts: map[string]string{
				"base": repoIndex, "istiod": repoIndex, "cni": repoIndex, "ztunnel": repoIndex,
				"kiali-server": manifests.PinnedCatalog,
			},
			wantFiles: []string{"prometheus.yaml", "standard-install.yaml"},
			wantComponents: map[string][]string{
				hub + "pilot:1.30.3-distroless":   {"istiod"},
				hub + "proxyv2:1.30.3-distroless": {"gateway", "sidecar-injector", "waypoint"},
				hub + "ztunnel:1.30.3-distroless": {"ztunnel"},
				"quay.io/kiali/kiali:v2.26.0":     {"kiali"},
			},
		},
		{
			name: "sidecar",
			spec: manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileSidecar}},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "sidecar", Variants: []string{"default"},
				GatewayAPI: gatewayAPI, GatewayAPIChannel: "standard",
				Kubernetes: manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
			},
			wantImages: []string{hub + "pilot:1.30.3", hub + "proxyv2:1.30.3"},
			wantCharts: map[string]string{"base": repoIndex, "istiod": repoIndex},
			wantFiles:  []string{"standard-install.yaml"},
		},
		{
			name: "sidecar with cni",
			spec: manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion, CNI: true}},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "sidecar", Variants: []string{"default"},
				GatewayAPI: gatewayAPI, GatewayAPIChannel: "standard",
				Kubernetes: manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
			},
			wantImages:     []string{hub + "install-cni:1.30.3", hub + "pilot:1.30.3", hub + "proxyv2:1.30.3"},
			wantCharts:     map[string]string{"base": repoIndex, "istiod": repoIndex, "cni": repoIndex},
			wantFiles:      []string{"standard-install.yaml"},
			wantComponents: map[string][]string{hub + "install-cni:1.30.3": {"cni"}},
		},
		{
			name: "sidecar with ingress gateway adds the chart, not an image",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: istioVersion, IngressGateway: true},
				GatewayAPI: manifests.GatewayAPI{Enabled: off()},
			},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "sidecar", Variants: []string{"default"},
				Kubernetes: manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
			},
			wantImages: []string{hub + "pilot:1.30.3", hub + "proxyv2:1.30.3"},
			wantCharts: map[string]string{"base": repoIndex, "istiod": repoIndex, "gateway": repoIndex},
			wantComponents: map[string][]string{
				hub + "proxyv2:1.30.3": {"gateway", "sidecar-injector", "waypoint"},
			},
		},
		{
			name: "sidecar with both variants",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: istioVersion, Variant: manifests.VariantBoth},
				GatewayAPI: manifests.GatewayAPI{Version: "1.5.1", Channel: manifests.ChannelExperimental},
			},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "sidecar", Variants: []string{"default", "distroless"},
				GatewayAPI: gatewayAPI, GatewayAPIChannel: "experimental",
				Kubernetes: manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
			},
			wantImages: []string{
				hub + "pilot:1.30.3", hub + "pilot:1.30.3-distroless",
				hub + "proxyv2:1.30.3", hub + "proxyv2:1.30.3-distroless",
			},
			wantCharts: map[string]string{"base": repoIndex, "istiod": repoIndex},
			wantFiles:  []string{"experimental-install.yaml"},
		},
		{
			name: "minor 1.30 resolves to 1.30.3",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: "v1.30"},
				Kiali:      manifests.KialiSpec{Enabled: true, Version: "2.26"},
				Kubernetes: manifests.KubernetesSpec{Version: "1.33"},
			},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "sidecar", Variants: []string{"default"},
				Kiali: kialiVersion, GatewayAPI: gatewayAPI, GatewayAPIChannel: "standard",
				Kubernetes:        manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
				ClusterKubernetes: "1.33",
			},
			wantImages: []string{hub + "pilot:1.30.3", hub + "proxyv2:1.30.3", promImage, promReloader, "quay.io/kiali/kiali:v2.26.0"},
			wantCharts: map[string]string{"base": repoIndex, "istiod": repoIndex, "kiali-server": manifests.PinnedCatalog},
			wantFiles:  []string{"prometheus.yaml", "standard-install.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				events []progress.Event
			)
			lock, err := resolveWith(t, tt.spec, resolve.Options{
				Client: newClient(t, nil),
				Progress: func(e progress.Event) {
					mu.Lock() // pinImages reports from several goroutines
					defer mu.Unlock()
					events = append(events, e)
				},
			})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			// ResolvedFrom is checked by TestResolveNewestPatch.
			if diff := cmp.Diff(tt.wantSet, lock.Set, cmpopts.IgnoreFields(manifests.ResolvedSet{}, "ResolvedFrom")); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantImages, imageRefs(lock)); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCharts, chartPins(lock)); diff != "" {
				t.Errorf("charts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFiles, fileNames(lock)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			for ref, want := range tt.wantComponents {
				if got := components(lock, ref); !slices.Equal(got, want) {
					t.Errorf("image %s components: got %v, want %v", ref, got, want)
				}
			}
			for _, c := range lock.Charts {
				if c.Name == "kiali-server" && c.Digest != kialiChartSHA {
					t.Errorf("kiali-server digest: got %s, want the catalog pin %s", c.Digest, kialiChartSHA)
				}
				if c.Name != "kiali-server" && c.Version != istioVersion {
					t.Errorf("chart %s: got version %s, want %s", c.Name, c.Version, istioVersion)
				}
			}
			if len(lock.Notes) > 0 {
				t.Errorf("notes: got %q, want none (the rendered charts and the catalog agree)", lock.Notes)
			}
			checkAgainstFixture(t, lock)
			checkEvents(t, lock, events)
		})
	}
}

// checkEvents requires one progress.Pinned event per pinned artifact, with
// its digest (and, for images and files, its size and media type).
func checkEvents(t *testing.T, lock *manifests.Lock, events []progress.Event) {
	t.Helper()
	type pin struct {
		Digest, MediaType string
		Size              int64
	}
	want := map[string]pin{}
	for _, i := range lock.Images {
		want["image "+i.Reference] = pin{i.Digest, i.MediaType, i.Size}
	}
	for _, c := range lock.Charts {
		want["chart "+c.Name+" "+c.Version] = pin{Digest: c.Digest}
	}
	for _, f := range lock.Files {
		want["file "+f.Source] = pin{f.Digest, f.MediaType, f.Size}
	}
	got := map[string]pin{}
	for _, e := range events {
		if e.Kind != progress.Pinned {
			t.Errorf("event %+v: got kind %v, want %v", e, e.Kind, progress.Pinned)
		}
		got[e.ArtifactKind+" "+e.Name] = pin{e.Descriptor.Digest.String(), e.Descriptor.MediaType, e.Descriptor.Size}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress events (-want +got):\n%s", diff)
	}
}

// TestResolvePlatformFilter checks that a platform filter never drops pins
// from the lock and fails, naming the image and its platforms, when an
// image has none of the requested platforms.
func TestResolvePlatformFilter(t *testing.T) {
	tests := []struct {
		name       string
		spec       manifests.Spec
		wantImages []string
		wantErr    []string // parts of the error; nil means success
	}{
		{
			name: "arm64 keeps every platform in the lock",
			spec: manifests.Spec{
				Istio:     manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient},
				Kiali:     manifests.KialiSpec{Enabled: true},
				Platforms: []string{"linux/arm64"},
			},
			wantImages: []string{
				hub + "install-cni:1.30.3-distroless", hub + "pilot:1.30.3-distroless",
				hub + "proxyv2:1.30.3-distroless", hub + "ztunnel:1.30.3-distroless",
				promImage, promReloader, "quay.io/kiali/kiali:v2.26.0",
			},
		},
		{
			name: "s390x matches kiali only, so the workload image fails",
			spec: manifests.Spec{
				Istio:       manifests.IstioSpec{Version: manifests.IstioNone},
				Kiali:       manifests.KialiSpec{Enabled: true, Version: kialiVersion},
				ExtraImages: []string{appImage},
				Platforms:   []string{"linux/s390x"},
			},
			wantErr: []string{appImage, "[linux/amd64 linux/arm64]", "linux/s390x"},
		},
		{
			name: "s390x or amd64 matches every image",
			spec: manifests.Spec{
				Istio:       manifests.IstioSpec{Version: manifests.IstioNone},
				Kiali:       manifests.KialiSpec{Enabled: true, Version: kialiVersion},
				ExtraImages: []string{appImage},
				Platforms:   []string{"linux/s390x", "linux/amd64"},
			},
			wantImages: []string{appImage, "quay.io/kiali/kiali:v2.26.0"},
		},
		{
			name: "riscv64 matches no istio image",
			spec: manifests.Spec{
				Istio:     manifests.IstioSpec{Version: istioVersion},
				Platforms: []string{"linux/riscv64"},
			},
			wantErr: []string{hub, "[linux/amd64 linux/arm64]", "linux/riscv64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock, err := resolveWith(t, tt.spec, resolve.Options{Client: newClient(t, nil)})
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tt.wantImages, imageRefs(lock)); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.spec.Platforms, lock.Spec.Platforms, sortStrings()); diff != "" {
				t.Errorf("lock spec platforms (-want +got):\n%s", diff)
			}
			checkAgainstFixture(t, lock) // every published platform, filtered or not
		})
	}
}

func sortStrings() cmp.Option {
	return cmp.Transformer("sort", func(in []string) []string {
		out := slices.Clone(in)
		sort.Strings(out)
		return out
	})
}

func imageRefs(l *manifests.Lock) []string {
	var out []string
	for _, i := range l.Images {
		out = append(out, i.Reference)
	}
	return out
}

func chartPins(l *manifests.Lock) map[string]string {
	out := map[string]string{}
	for _, c := range l.Charts {
		out[c.Name] = c.Pinned
	}
	return out
}

func fileNames(l *manifests.Lock) []string {
	var out []string
	for _, f := range l.Files {
		out = append(out, f.Name)
	}
	return out
}

func components(l *manifests.Lock, ref string) []string {
	for _, i := range l.Images {
		if i.Reference == ref {
			return i.Components
		}
	}
	return nil
}

// hasNote reports whether some note of l contains every part.
func hasNote(l *manifests.Lock, parts ...string) bool {
	for _, n := range l.Notes {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(n, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestResolveSpecMirrors checks that without Options.Client the spec's own
// mirrors are used (and validated), and never written to the lock.
func TestResolveSpecMirrors(t *testing.T) {
	ms := fixtureMirrors(t, nil)
	tests := []struct {
		name    string
		mirrors []manifests.Mirror
		wantErr []string // parts of the error; nil means success
	}{
		{name: "fixture mirrors", mirrors: ms},
		{
			name:    "empty replacement",
			mirrors: append(slices.Clone(ms), manifests.Mirror{Origin: "ghcr.io/acme"}),
			wantErr: []string{"mirrors[", "replacement", "empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := manifests.Spec{
				Istio:   manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient},
				Kiali:   manifests.KialiSpec{Enabled: true},
				Mirrors: tt.mirrors,
			}
			lock, err := resolveWith(t, spec, resolve.Options{})
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("Resolve with the spec's mirrors and no client: %v", err)
			}
			spec.Mirrors = nil
			want := mustResolve(t, spec)
			if diff := cmp.Diff(want, lock); diff != "" {
				t.Errorf("lock (-explicit client +spec mirrors):\n%s", diff)
			}
			checkAgainstFixture(t, lock)
		})
	}
}

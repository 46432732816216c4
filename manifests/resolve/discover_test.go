package resolve_test

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// addIndexVersion adds version to every chart of a Helm repository index,
// as a copy of the chart's newest entry: a chart published without images.
func addIndexVersion(t *testing.T, version string) func([]byte) []byte {
	return func(b []byte) []byte {
		var idx map[string]any
		if err := yaml.Unmarshal(b, &idx); err != nil {
			t.Errorf("index.yaml: %v", err)
			return b
		}
		entries, _ := idx["entries"].(map[string]any)
		for name, list := range entries {
			versions, _ := list.([]any)
			if len(versions) == 0 {
				continue
			}
			newest, _ := versions[0].(map[string]any)
			added := map[string]any{}
			for k, v := range newest {
				added[k] = v
			}
			added["version"], added["appVersion"] = version, version
			entries[name] = append([]any{added}, versions...)
		}
		out, err := yaml.Marshal(idx)
		if err != nil {
			t.Errorf("index.yaml: %v", err)
		}
		return out
	}
}

// TestResolveNewestPatch resolves a bare minor against a fixture upstream
// publishing 1.30.3 and 1.30.6 (a patch the catalog never saw), with and
// without discovery, and a chart index that also lists 1.30.9 without
// images.
func TestResolveNewestPatch(t *testing.T) {
	chartOnly := tamperProxy(t, map[string]func([]byte) []byte{"/istio-release/charts/index.yaml": addIndexVersion(t, "1.30.9")})
	tests := []struct {
		name        string
		version     string
		discover    bool
		override    map[string]string
		want        string
		wantSource  string
		wantSkipped []string
		wantNote    string
	}{
		{name: "discovery picks the newest published patch", version: "1.30", discover: true,
			want: newestPatch, wantSource: manifests.IstioFromUpstream,
			wantNote: "istio 1.30.6 is published upstream but is not among the catalog's 1.30 patches (newest known 1.30.5); the 1.30 rules apply: Kubernetes 1.32-1.36"},
		{name: "a chart without images is not picked", version: "1.30", discover: true,
			override: map[string]string{istioChartRepo: chartOnly.URL + "/istio-release/charts"},
			want:     newestPatch, wantSource: manifests.IstioFromUpstream,
			wantSkipped: []string{"1.30.9: charts published but no image tag docker.io/istio/pilot:1.30.9, docker.io/istio/proxyv2:1.30.9"}},
		{name: "catalog only", version: "1.30", want: istioVersion, wantSource: manifests.IstioFromCatalog},
		{name: "an exact version stays exact", version: istioVersion, discover: true, want: istioVersion, wantSource: manifests.IstioFromExact},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := manifests.Spec{Istio: manifests.IstioSpec{Version: tt.version}, GatewayAPI: manifests.GatewayAPI{Enabled: off()}}
			lock, err := resolveWith(t, spec, resolve.Options{Client: newClient(t, tt.override), Discover: tt.discover})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			rf := lock.Set.ResolvedFrom
			if lock.Set.Istio != tt.want || rf == nil || rf.Source != tt.wantSource || rf.Requested != tt.version || rf.Reason == "" {
				t.Fatalf("resolved %s from %+v, want %s from %s", lock.Set.Istio, rf, tt.want, tt.wantSource)
			}
			for _, c := range lock.Charts {
				if c.Version != tt.want {
					t.Errorf("chart %s %s, want version %s", c.Name, c.Version, tt.want)
				}
			}
			if !slices.Contains(imageRefs(lock), "docker.io/istio/pilot:"+tt.want) {
				t.Errorf("images %v lack pilot:%s", imageRefs(lock), tt.want)
			}
			checkAgainstFixture(t, lock)
			if !slices.Equal(rf.Skipped, tt.wantSkipped) {
				t.Errorf("skipped %q, want %q", rf.Skipped, tt.wantSkipped)
			}
			if tt.wantSource == manifests.IstioFromUpstream {
				if rf.ChartIndex != istioChartRepo+"/index.yaml" || !slices.Contains(rf.Published, istioVersion) || !slices.Contains(rf.Published, newestPatch) ||
					!slices.Equal(rf.ImageRepositories, []string{"docker.io/istio/pilot", "docker.io/istio/proxyv2"}) {
					t.Errorf("record %+v: want the canonical index, both published patches and the image repositories read", rf)
				}
				if !strings.Contains(rf.Reason, "newer than the catalog's choice 1.30.3") {
					t.Errorf("reason %q does not say why", rf.Reason)
				}
			}
			if tt.wantNote != "" && !hasNote(lock, tt.wantNote) {
				t.Errorf("notes %q lack %q", lock.Notes, tt.wantNote)
			}
			if err := lock.Validate(); err != nil {
				t.Errorf("lock: %v", err)
			}
		})
	}
}

// TestResolveDiscoveryFails checks that discovery fails promptly and
// clearly, naming what failed and the catalog's own choice, and that an
// unknown minor needs AllowUnsupported before anything is asked upstream.
func TestResolveDiscoveryFails(t *testing.T) {
	dead := "http://" + closedAddr(t)
	tests := []struct {
		name        string
		version     string
		allow       bool
		override    map[string]string
		wantErr     []string
		wantIs      []error
		wantNoCalls bool
	}{
		{name: "chart index unreachable", version: "1.30", override: map[string]string{istioChartRepo: dead + "/istio-release/charts"},
			wantErr: []string{"istio 1.30: cannot find the newest published Istio patch", "no chart index answered", dead, "would choose 1.30.3"},
			wantIs:  []error{resolve.ErrDiscovery, syscall.ECONNREFUSED}},
		{name: "registry unreachable", version: "1.30", override: map[string]string{"docker.io": dead + "/docker.io"},
			wantErr: []string{"image tags of docker.io/istio/pilot", "would choose 1.30.3"},
			wantIs:  []error{resolve.ErrDiscovery, syscall.ECONNREFUSED}},
		{name: "unknown minor", version: "1.32",
			wantErr: []string{"istio 1.32", "known minors", "Options.AllowUnsupported"},
			wantIs:  []error{manifests.ErrUnknownVersion}, wantNoCalls: true},
		{name: "end-of-life minor older than the catalog", version: "1.19",
			wantErr: []string{"istio 1.19: end of life: older than 1.26"},
			wantIs:  []error{manifests.ErrUnknownVersion}, wantNoCalls: true},
		// Allowed, 1.32 borrows 1.31's rules, whose chart repository the
		// fixture does not serve: discovery is tried, and fails cleanly.
		{name: "unknown minor allowed", version: "1.32", allow: true,
			wantErr: []string{"istio 1.32: cannot find the newest published Istio patch", "blob.istio.io"},
			wantIs:  []error{resolve.ErrDiscovery}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := &countingTransport{next: loopbackOnly()}
			c := newClientWith(t, fixtureMirrors(t, tt.override), ct)
			spec := manifests.Spec{Istio: manifests.IstioSpec{Version: tt.version}}
			lock, err := resolveWith(t, spec, resolve.Options{Client: c, Discover: true, AllowUnsupported: tt.allow})
			if lock != nil {
				t.Fatalf("got a lock of %s, want an error", lock.Set.Istio)
			}
			wantErrContains(t, err, tt.wantErr...)
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %v does not match %v", err, target)
				}
			}
			if n := ct.n.Load(); tt.wantNoCalls && n != 0 {
				t.Errorf("%d upstream requests, want none", n)
			}
		})
	}
}

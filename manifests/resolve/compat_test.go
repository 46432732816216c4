package resolve_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/remote"
)

// countingTransport counts requests before handing them to next.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestResolveIncompatible checks that a version set outside the catalog's
// rules fails before contacting upstream, with ErrIncompatible and a
// message naming both versions of each broken rule.
func TestResolveIncompatible(t *testing.T) {
	tests := []struct {
		name      string
		spec      manifests.Spec
		wantRules []string
		wantParts []string
	}{
		{
			name: "kiali outside the range of istio 1.30",
			spec: manifests.Spec{
				Istio: manifests.IstioSpec{Version: "1.30"},
				Kiali: manifests.KialiSpec{Enabled: true, Version: "2.12.0"},
			},
			wantRules: []string{"kiali-range"},
			wantParts: []string{"kiali 2.12.0", "istio 1.30.3", ">=2.22.0 <2.30.0"},
		},
		{
			name: "gateway api below the minimum of istio 1.30",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: "1.30"},
				GatewayAPI: manifests.GatewayAPI{Version: oldGatewayAPI},
			},
			wantRules: []string{"gateway-api-min"},
			wantParts: []string{"gateway-api v1.4.1", "istio 1.30.3", "v1.5.0"},
		},
		{
			name: "kubernetes below the range of istio 1.30",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient},
				Kubernetes: manifests.KubernetesSpec{Version: "1.29"},
			},
			wantRules: []string{"kubernetes-range", "gateway-api-kubernetes"},
			wantParts: []string{"kubernetes 1.29", "istio 1.30.3", "1.32 to 1.36", "below 1.30, the oldest Kubernetes gateway-api v1.5.1 supports"},
		},
		{
			name: "kubernetes below the gateway api release's own floor",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: "1.26.8"},
				GatewayAPI: manifests.GatewayAPI{Version: "v1.5.1"},
				Kubernetes: manifests.KubernetesSpec{Version: "1.29"},
			},
			wantRules: []string{"gateway-api-kubernetes"},
			wantParts: []string{"kubernetes 1.29 is below 1.30", "gateway-api v1.5.1", "ValidatingAdmissionPolicy", "end of life"},
		},
		{
			name: "an end-of-life minor says so",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: "1.28"},
				Kubernetes: manifests.KubernetesSpec{Version: "1.29"},
			},
			wantRules: []string{"kubernetes-range"},
			wantParts: []string{"kubernetes 1.29", "istio 1.28.10", "istio 1.28 reached end of life on 2026-07-01"},
		},
		{
			name: "every rule at once",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: istioVersion},
				Kiali:      manifests.KialiSpec{Enabled: true, Version: "v2.12"},
				GatewayAPI: manifests.GatewayAPI{Version: "1.4.1"},
				Kubernetes: manifests.KubernetesSpec{Version: "1.37.2"},
			},
			wantRules: []string{"kiali-range", "kubernetes-range", "gateway-api-min"},
			wantParts: []string{"kiali 2.12.0", "gateway-api v1.4.1", "kubernetes 1.37.2", "istio 1.30.3", "Options.AllowUnsupported"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := &countingTransport{next: loopbackOnly()}
			c := newClientWith(t, fixtureMirrors(t, nil), ct)
			lock, err := resolveWith(t, tt.spec, resolve.Options{Client: c})
			if lock != nil {
				t.Errorf("got a lock with set %+v, want none", lock.Set)
			}
			if !errors.Is(err, resolve.ErrIncompatible) {
				t.Fatalf("got error %v, want one matching resolve.ErrIncompatible", err)
			}
			wantErrContains(t, err, tt.wantParts...)
			ie, ok := errorsAsIncompatible(err)
			if !ok {
				t.Fatalf("got %T, want a *resolve.IncompatibleError in the chain", err)
			}
			var rules []string
			for _, v := range ie.Violations {
				rules = append(rules, v.Rule)
			}
			if diff := cmp.Diff(tt.wantRules, rules); diff != "" {
				t.Errorf("violated rules (-want +got):\n%s", diff)
			}
			if n := ct.n.Load(); n != 0 {
				t.Errorf("got %d upstream requests, want none before the set is known to be compatible", n)
			}
		})
	}
}

// TestResolveAllowUnsupported checks that --allow-unsupported turns the
// violations into notes and a flagged set, and still pins everything.
func TestResolveAllowUnsupported(t *testing.T) {
	tests := []struct {
		name      string
		spec      manifests.Spec
		wantSet   manifests.ResolvedSet
		wantNotes [][]string // each: parts of one note
		wantFile  string     // source of the pinned Gateway API file
		wantErr   []string   // parts of the error; nil means success
		wantIs    error
	}{
		{
			name: "old gateway api and kubernetes",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: "1.30", Profile: manifests.ProfileAmbient},
				GatewayAPI: manifests.GatewayAPI{Version: oldGatewayAPI},
				Kubernetes: manifests.KubernetesSpec{Version: "1.29"},
			},
			wantSet: manifests.ResolvedSet{
				Istio: istioVersion, Profile: "ambient", Variants: []string{"distroless"},
				GatewayAPI: oldGatewayAPI, GatewayAPIChannel: "standard",
				Kubernetes:        manifests.KubernetesRange{Min: "1.32", Max: "1.36"},
				ClusterKubernetes: "1.29", Unsupported: true,
			},
			wantNotes: [][]string{
				{"unsupported", "gateway-api v1.4.1", "istio 1.30.3"},
				{"unsupported", "kubernetes 1.29", "istio 1.30.3"},
			},
			wantFile: "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.1/standard-install.yaml",
		},
		{
			// The fixture's Kiali repository (like the real one) lists
			// 2.12.0 but only serves the 2.26.0 package.
			name: "kiali allowed but its chart is not served",
			spec: manifests.Spec{
				Istio: manifests.IstioSpec{Version: "1.30"},
				Kiali: manifests.KialiSpec{Enabled: true, Version: "2.12.0"},
			},
			wantErr: []string{"kiali-server 2.12.0", kialiChartRepo + "/kiali-server-2.12.0.tgz", "404"},
			wantIs:  remote.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock, err := resolveWith(t, tt.spec, resolve.Options{Client: newClient(t, nil), AllowUnsupported: true})
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v: want it to match %v", err, tt.wantIs)
				}
				if errors.Is(err, resolve.ErrIncompatible) {
					t.Errorf("error %v: matches ErrIncompatible under AllowUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			// ResolvedFrom is checked by TestResolveNewestPatch.
			if diff := cmp.Diff(tt.wantSet, lock.Set, cmpopts.IgnoreFields(manifests.ResolvedSet{}, "ResolvedFrom")); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
			for _, parts := range tt.wantNotes {
				if !hasNote(lock, parts...) {
					t.Errorf("notes %q: none mentions all of %q", lock.Notes, parts)
				}
			}
			if len(lock.Files) != 1 || lock.Files[0].Source != tt.wantFile {
				t.Errorf("files: got %+v, want only %s", lock.Files, tt.wantFile)
			}
			checkAgainstFixture(t, lock)
		})
	}
}

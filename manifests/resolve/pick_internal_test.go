package resolve

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
)

// TestNarrowKubernetes checks that the set's Kubernetes range starts no
// lower than the Gateway API release's own floor, with a note when raised.
func TestNarrowKubernetes(t *testing.T) {
	cat, err := manifests.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		gatewayAPI string
		min        string
		wantMin    string
	}{
		{"floor above the istio range raises it", "v1.5.1", "1.29", "1.30"},
		{"floor below the istio range keeps it", "v1.5.1", "1.32", "1.32"},
		{"floor equal keeps it", "v1.6.1", "1.30", "1.30"},
		{"no floor", "v1.4.1", "1.29", "1.29"},
		{"no gateway api", "", "1.29", "1.29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &resolver{cat: cat, log: slog.New(slog.DiscardHandler), lock: &manifests.Lock{}}
			set := &manifests.ResolvedSet{Istio: "1.26.8", GatewayAPI: tt.gatewayAPI, Kubernetes: manifests.KubernetesRange{Min: tt.min, Max: "1.33"}}
			r.narrowKubernetes(set)
			if set.Kubernetes.Min != tt.wantMin || set.Kubernetes.Max != "1.33" {
				t.Errorf("range %+v, want %s-1.33", set.Kubernetes, tt.wantMin)
			}
			raised := tt.wantMin != tt.min
			if noted := len(r.lock.Notes) == 1 && strings.Contains(r.lock.Notes[0], "starts at "+tt.wantMin+", not "+tt.min); noted != raised {
				t.Errorf("notes %q: want a note only when the range is raised (%v)", r.lock.Notes, raised)
			}
		})
	}
}

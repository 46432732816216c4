package resolve_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// TestLockRoundTrip checks that a resolved lock survives Marshal, LoadLock
// and Validate unchanged, and that resolving the same spec against the same
// upstream writes the same bytes.
func TestLockRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		spec  manifests.Spec
		allow bool
	}{
		{
			name: "ambient with kiali",
			spec: manifests.Spec{
				Metadata: manifests.SpecMetadata{Name: "mesh"},
				Istio:    manifests.IstioSpec{Version: "1.30", Profile: manifests.ProfileAmbient},
				Kiali:    manifests.KialiSpec{Enabled: true},
				// Mirrors in the spec are dropped from the lock.
				Mirrors: []manifests.Mirror{{Origin: "docker.io", Replacement: "nexus.example.com/dockerhub"}},
			},
		},
		{
			name: "sidecar, both variants, gateway, platforms",
			spec: manifests.Spec{
				Istio:     manifests.IstioSpec{Version: istioVersion, Variant: manifests.VariantBoth, IngressGateway: true, CNI: true},
				Platforms: []string{"linux/arm64", "linux/amd64"},
			},
		},
		{
			name: "extra images only",
			spec: manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{webImage, "app:1"}},
		},
		{
			name: "unsupported set with notes",
			spec: manifests.Spec{
				Istio:      manifests.IstioSpec{Version: istioVersion},
				GatewayAPI: manifests.GatewayAPI{Version: oldGatewayAPI},
				Kubernetes: manifests.KubernetesSpec{Version: "1.29"},
			},
			allow: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := resolve.Options{Client: newClient(t, nil), AllowUnsupported: tt.allow}
			lock, err := resolveWith(t, tt.spec, opts)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			raw, err := lock.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			loaded, err := manifests.LoadLock(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("LoadLock of the marshalled lock: %v\n%s", err, raw)
			}
			if err := loaded.Validate(); err != nil {
				t.Errorf("Validate of the loaded lock: %v", err)
			}
			if diff := cmp.Diff(lock, loaded); diff != "" {
				t.Errorf("lock after Marshal and LoadLock (-resolved +loaded):\n%s", diff)
			}
			again, err := loaded.Marshal()
			if err != nil {
				t.Fatalf("Marshal of the loaded lock: %v", err)
			}
			if !bytes.Equal(raw, again) {
				t.Errorf("Marshal of the loaded lock differs:\n%s\nwant:\n%s", again, raw)
			}

			second, err := resolveWith(t, tt.spec, opts)
			if err != nil {
				t.Fatalf("second Resolve: %v", err)
			}
			raw2, err := second.Marshal()
			if err != nil {
				t.Fatalf("Marshal of the second lock: %v", err)
			}
			if !bytes.Equal(raw, raw2) {
				t.Errorf("a second resolve of the same spec wrote different bytes:\n%s\nwant:\n%s", raw2, raw)
			}
		})
	}
}

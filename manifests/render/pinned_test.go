package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lattice-mesh/meshpack/manifests"
)

const enclave = "registry.enclave.local:5000/mesh"

func fakeDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestPinnedValuesRenderDigests re-checks the digest-pinning value paths of
// DESIGN.md "Install" on the real 1.30.3 charts: rendered with PinnedValues,
// every image a workload runs or istiod injects is in the enclave registry and
// carries a digest.
func TestPinnedValuesRenderDigests(t *testing.T) {
	charts := publishedCharts(t)
	cat, err := manifests.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  IstioRequest
		want map[string]string // upstream name -> pinned reference template ({d} = digest)
	}{
		{
			name: "ambient with gateway and agentgateway",
			req:  IstioRequest{Profile: ProfileAmbient, IngressGateway: true, Agentgateway: true},
			want: map[string]string{
				"pilot:1.30.3-distroless":        enclave + "/istio/pilot@{d}",
				"proxyv2:1.30.3-distroless":      enclave + "/istio/proxyv2@{d}",
				"install-cni:1.30.3-distroless":  enclave + "/istio/install-cni@{d}",
				"ztunnel:1.30.3-distroless":      enclave + "/istio/ztunnel:1.30.3-distroless@{d}",
				"agentgateway:1.30.3-distroless": enclave + "/istio/agentgateway@{d}",
			},
		},
		{
			name: "ambient default variant",
			req:  IstioRequest{Profile: ProfileAmbient, Variant: VariantDefault},
			want: map[string]string{
				"pilot:1.30.3":       enclave + "/istio/pilot@{d}",
				"proxyv2:1.30.3":     enclave + "/istio/proxyv2@{d}",
				"install-cni:1.30.3": enclave + "/istio/install-cni@{d}",
				"ztunnel:1.30.3":     enclave + "/istio/ztunnel:1.30.3@{d}",
			},
		},
		{
			name: "sidecar with cni",
			req:  IstioRequest{CNI: true, IngressGateway: true},
			want: map[string]string{
				"pilot:1.30.3":       enclave + "/istio/pilot@{d}",
				"proxyv2:1.30.3":     enclave + "/istio/proxyv2@{d}",
				"install-cni:1.30.3": enclave + "/istio/install-cni@{d}",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Version, req.Hub = istioVersion, dockerHub
			variants := []string(nil)
			if req.Variant != "" {
				variants = []string{req.Variant}
			}
			expected, err := cat.ExpectedImages(istioVersion, manifests.ImageOptions{Profile: req.Profile, Variants: variants, CNI: req.CNI, Agentgateway: req.Agentgateway})
			if err != nil {
				t.Fatal(err)
			}
			digests := map[string]string{}
			for _, e := range expected {
				digests[e.Reference] = fakeDigest(e.Reference)
			}
			imgs, err := discoverIstio(charts, req, func(c string) (map[string]any, error) {
				return PinnedValues(c, req, digests, enclave)
			})
			if err != nil {
				t.Fatalf("render with PinnedValues: %v", err)
			}
			var want []string
			for name, tmpl := range tt.want {
				want = append(want, strings.ReplaceAll(tmpl, "{d}", fakeDigest(dockerHub+"/"+name)))
			}
			got := refs(imgs)
			for _, ref := range got {
				if !strings.HasPrefix(ref, enclave+"/") || !strings.Contains(ref, "@sha256:") {
					t.Errorf("rendered image %s is not pinned by digest in %s", ref, enclave)
				}
			}
			if missing, extra := CompareWithCatalog(imgs, want); len(missing)+len(extra) > 0 {
				t.Errorf("pinned images: missing %q, extra %q (got %q)", missing, extra, got)
			}
		})
	}
}

func TestPinnedValuesErrors(t *testing.T) {
	req := IstioRequest{Version: istioVersion, Hub: dockerHub}
	digests := map[string]string{"docker.io/istio/pilot:1.30.3": fakeDigest("p")}
	tests := []struct {
		name      string
		component string
		req       IstioRequest
		digests   map[string]string
		want      string
	}{
		{"missing proxy digest", ChartIstiod, req, digests, "image docker.io/istio/proxyv2:1.30.3: no digest given"},
		{"missing cni digest", ChartCNI, req, digests, "image docker.io/istio/install-cni:1.30.3: no digest given"},
		{"bad digest", ChartIstiod, req, map[string]string{"docker.io/istio/pilot:1.30.3": "sha256:abc"}, `digest "sha256:abc" is not sha256:<64 hex>`},
		{"no hub", ChartIstiod, IstioRequest{Version: istioVersion}, digests, "the request needs Hub and Version"},
		{"agentgateway before 1.29", ChartIstiod, IstioRequest{Version: "1.28.10", Hub: dockerHub, Agentgateway: true}, map[string]string{
			"docker.io/istio/pilot:1.28.10": fakeDigest("p"), "docker.io/istio/proxyv2:1.28.10": fakeDigest("x"), "docker.io/istio/agentgateway:1.28.10": fakeDigest("a"),
		}, "agentgateway needs Istio 1.29 or later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PinnedValues(tt.component, tt.req, tt.digests, enclave)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestKialiPinnedValues(t *testing.T) {
	ch := loadKiali(t)
	d := fakeDigest("kiali")
	vals, err := KialiPinnedValues(ch, "2.26.0", map[string]string{"quay.io/kiali/kiali:v2.26.0": d}, enclave)
	if err != nil {
		t.Fatalf("KialiPinnedValues: %v", err)
	}
	out, err := Chart(ch, vals, Release{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := out.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Images()...)
	}
	if diff := cmp.Diff([]string{enclave + "/kiali/kiali@" + d}, got); diff != "" {
		t.Errorf("kiali images (-want +got):\n%s", diff)
	}
	if _, err := KialiPinnedValues(ch, "2.26.0", nil, enclave); err == nil {
		t.Error("KialiPinnedValues without a digest: got nil error")
	}
}

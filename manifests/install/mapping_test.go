package install

import (
	"reflect"
	"testing"
)

func TestTargetRepo(t *testing.T) {
	for _, tc := range []struct {
		registry, repo, mode, want string
	}{
		{"reg:5000/mesh", "istio/pilot", PathKeep, "reg:5000/mesh/istio/pilot"},
		{"reg:5000/mesh", "istio/pilot", PathFlatten, "reg:5000/mesh/istio-pilot"},
		{"reg", "kiali/kiali", PathFlatten, "reg/kiali-kiali"},
		{"reg", "library/app", PathKeep, "reg/library/app"},
	} {
		if got := targetRepo(tc.registry, tc.repo, tc.mode); got != tc.want {
			t.Errorf("targetRepo(%q, %q, %q) = %q, want %q", tc.registry, tc.repo, tc.mode, got, tc.want)
		}
	}
}

func TestRetarget(t *testing.T) {
	const d = "@sha256:0123"
	values := func(pilot, proxy, kiali string) map[string]any {
		return map[string]any{
			"image":  pilot + d,
			"global": map[string]any{"hub": "reg/mesh/istio", "proxy": map[string]any{"image": proxy + d}},
			"list":   []any{kiali, "other.io/x/y" + d},
		}
	}
	kept := func() map[string]any {
		return values("reg/mesh/istio/pilot", "reg/mesh/istio/proxyv2", "reg/mesh/kiali/kiali")
	}
	for _, tc := range []struct {
		mode string
		want map[string]any
	}{
		{PathKeep, kept()},
		{PathFlatten, values("reg/mesh/istio-pilot", "reg/mesh/istio-proxyv2", "reg/mesh/kiali-kiali")},
	} {
		if got := retarget(kept(), "reg/mesh", tc.mode); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("retarget(%s) = %v, want %v", tc.mode, got, tc.want)
		}
	}
}

func TestDigestOnlyAndVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"reg:5000/istio/ztunnel:1.30.3-distroless@sha256:ab", "reg:5000/istio/ztunnel@sha256:ab"},
		{"reg:5000/istio/pilot@sha256:ab", "reg:5000/istio/pilot@sha256:ab"},
		{"reg:5000/istio/pilot:1.30.3", "reg:5000/istio/pilot:1.30.3"},
	} {
		if got := DigestOnly(tc.in); got != tc.want {
			t.Errorf("DigestOnly(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    string
		want bool
	}{{"1.30.3", true}, {"1.28.0", true}, {"1.27.9", false}, {"v2.0.0", true}, {"x", false}} {
		if got := atLeast(tc.v, 1, 28); got != tc.want {
			t.Errorf("atLeast(%q, 1.28) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

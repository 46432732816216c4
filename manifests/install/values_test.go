package install

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests/render"
)

func TestParseUserValuesErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "v.yaml")
	if err := os.WriteFile(good, []byte("pilot: {cpu: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		files, sets []string
		want        string
	}{
		{[]string{"istiod"}, nil, "want CHART=FILE"},
		{[]string{"pilot=" + good}, nil, `chart "pilot": want one of base, istiod`},
		{[]string{"istiod=" + filepath.Join(dir, "missing.yaml")}, nil, "missing.yaml"},
		{nil, []string{"istiod"}, "want CHART.key=value"},
		{nil, []string{"kiali.deployment.replicas=2"}, `chart "kiali"`},
		{nil, []string{"istiod.a[=1"}, `set "istiod.a[=1"`},
	} {
		_, err := ParseUserValues(tc.files, tc.sets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseUserValues(%v, %v) = %v, want an error containing %q", tc.files, tc.sets, err, tc.want)
		}
	}
	uv, err := ParseUserValues([]string{"istiod=" + good}, []string{"istiod.pilot.cpu=2", "kiali-server.deployment.replicas=2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := uv["istiod"]["pilot"].(map[string]any)["cpu"]; got != int64(2) {
		t.Errorf("--set after -f: pilot.cpu = %v (%T), want 2", got, got)
	}
}

// TestUserValues layers user values and a pull secret over the pinned
// values: an ordinary value lands, a changed image key warns and then fails
// the render, the pull secret reaches every chart's key.
func TestUserValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sets    []string
		secret  string
		warn    string // a warning containing this
		fail    string // Manifests fails with this
		present []string
	}{
		{name: "plain value", sets: []string{"istiod.pilot.env.PILOT_TRACE_SAMPLING=5"}, present: []string{"PILOT_TRACE_SAMPLING"}},
		{name: "unpin istiod", sets: []string{"istiod.image=docker.io/istio/pilot:1.30.3"},
			warn: "istiod: user values change image from reg.local:5000/mesh/istio/pilot@sha256:", fail: `image "docker.io/istio/pilot:1.30.3", which is not pinned by a bundle digest`},
		{name: "unpin injected proxy", sets: []string{"istiod.global.proxy.image=docker.io/istio/proxyv2:1.30.3"},
			warn: "global.proxy.image", fail: "not pinned by a bundle digest"},
		{name: "pull secret", secret: "enclave-pull", present: []string{"- name: enclave-pull", `"enclave-pull"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uv, err := ParseUserValues(nil, tc.sets)
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewPlan(context.Background(), newFake(t, render.ProfileAmbient, true), Options{Registry: testRegistry, Values: uv, ImagePullSecret: tc.secret})
			if err != nil {
				t.Fatal(err)
			}
			warns := strings.Join(p.Warnings, "\n")
			if tc.warn == "" && warns != "" || !strings.Contains(warns, tc.warn) {
				t.Errorf("warnings %q, want %q", warns, tc.warn)
			}
			ms, err := p.Manifests(context.Background())
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("Manifests: %v, want an error containing %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			for _, m := range ms {
				all.Write(m.Data)
			}
			for _, want := range tc.present {
				if !strings.Contains(all.String(), want) {
					t.Errorf("the render lacks %q", want)
				}
			}
		})
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
)

// TestE2ENewestPatch resolves a bare minor against the fixture upstream,
// which publishes Istio 1.30.3 (the catalog's choice) and 1.30.4.
func TestE2ENewestPatch(t *testing.T) {
	e := env(t)
	tests := []struct {
		name       string
		args       []string
		want       string
		wantSource string
		wantStderr []string
	}{
		{"a bare minor takes the newest published patch", []string{"--istio", "1.30"}, "1.30.4", manifests.IstioFromUpstream,
			[]string{"istio 1.30 -> 1.30.4 (upstream): newest 1.30 patch published upstream with charts (base, istiod in https://istio-release.storage.googleapis.com/charts/index.yaml) and image tags; newer than the catalog's choice 1.30.3"}},
		{"--catalog-only takes the catalog's patch", []string{"--istio", "1.30", "--catalog-only"}, "1.30.3", manifests.IstioFromCatalog,
			[]string{"istio 1.30 -> 1.30.3 (catalog): the catalog's newest 1.30 patch; upstream was not asked for newer ones"}},
		{"an exact version stays exact", []string{"--istio", "1.30.3"}, "1.30.3", manifests.IstioFromExact, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "mesh.lock.yaml")
			_, errOut, code := e.meshpack(t, append([]string{"resolve", out, "--gateway-api", "none"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("resolve: exit %d\n%s", code, errOut)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			lock, err := manifests.LoadLock(f)
			if err != nil {
				t.Fatalf("the lock does not load back: %v", err)
			}
			if rf := lock.Set.ResolvedFrom; lock.Set.Istio != tt.want || rf == nil || rf.Source != tt.wantSource {
				t.Fatalf("set istio %s from %+v, want %s from %s", lock.Set.Istio, rf, tt.want, tt.wantSource)
			}
			for _, c := range lock.Charts {
				if c.Version != tt.want {
					t.Errorf("chart %s %s, want %s", c.Name, c.Version, tt.want)
				}
			}
			for _, img := range lock.Images {
				if info, ok := e.u.Image(img.Reference); !ok || !strings.HasSuffix(img.Reference, ":"+tt.want) || info.Digest.String() != img.Digest {
					t.Errorf("image %s@%s: want the fixture's %s image and digest", img.Reference, img.Digest, tt.want)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestE2EResolveRefused checks the refusals of resolve: each names what is
// wrong and the flag that addresses it.
func TestE2EResolveRefused(t *testing.T) {
	e := env(t)
	dead := "http://127.0.0.1:" + freePort(t) // nothing listens there
	tests := []struct {
		name    string
		args    []string
		mirrors bool // append the fixture mirrors
		wantErr []string
	}{
		{"unknown minor", []string{"--istio", "1.32"}, true,
			[]string{"istio 1.32: version not in catalog; known minors: 1.26", "--allow-unsupported resolves it with the rules of istio 1.31"}},
		{"end-of-life minor", []string{"--istio", "1.24"}, true,
			[]string{"istio 1.24: end of life: older than 1.26", "move to a supported minor"}},
		{"gateway api floor", []string{"--istio", "1.26.8", "--gateway-api", "v1.5.1", "--kubernetes-version", "1.29"}, true,
			[]string{"kubernetes 1.29 is below 1.30, the oldest Kubernetes gateway-api v1.5.1 supports: its install YAML carries a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1",
				"istio 1.26 reached end of life", "--allow-unsupported"}},
		{"chart index unreachable", []string{"--istio", "1.30", "--mirror", "https://istio-release.storage.googleapis.com/charts=" + dead + "/charts"}, false,
			[]string{"istio 1.30: cannot find the newest published Istio patch: no chart index answered", dead, "pass --catalog-only for the catalog's 1.30.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"resolve"}, tt.args...)
			var errOut string
			var code int
			if tt.mirrors {
				_, errOut, code = e.meshpack(t, args...)
			} else {
				_, errOut, code = runCLI(t, "", args...)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1\n%s", code, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestE2EVersionsRefresh asks the fixture upstream for the newest patch of
// each supported minor.
func TestE2EVersionsRefresh(t *testing.T) {
	e := env(t)
	out, errOut, code := e.meshpack(t, "versions", "--refresh", "--stall-timeout", "10s", "-o", "json") // 1.31: not served by the fixture
	if code != 0 {
		t.Fatalf("versions --refresh: exit %d\n%s", code, errOut)
	}
	var entries []versionEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("versions --refresh -o json: %v\n%s", err, out)
	}
	found := false
	for _, v := range entries {
		switch {
		case v.Istio == "1.30":
			found = true
			u := v.Upstream
			if u == nil || u.Newest != "1.30.4" || u.ResolvedFrom == nil || !slices.Equal(u.ResolvedFrom.Published, []string{"1.30.3", "1.30.4"}) {
				t.Errorf("1.30 upstream %+v, want 1.30.4 of the published 1.30.3, 1.30.4", u)
			}
			if v.Latest != "1.30.3" {
				t.Errorf("1.30 latest %s: want the catalog's 1.30.3 next to the upstream patch", v.Latest)
			}
		case v.Status == manifests.StatusEOL && (v.Upstream == nil || v.Upstream.Newest != ""):
			t.Errorf("istio %s is end of life: want it not refreshed, got %+v", v.Istio, v.Upstream)
		}
	}
	if !found {
		t.Fatalf("no 1.30 entry in %s", out)
	}
	table, errOut, code := e.meshpack(t, "versions", "--refresh", "--stall-timeout", "10s")
	if code != 0 || !strings.Contains(table, "UPSTREAM") || !strings.Contains(table, "1.30.4") {
		t.Errorf("versions --refresh: exit %d, want an UPSTREAM column with 1.30.4:\n%s\n%s", code, table, errOut)
	}
}

// TestE2ECreateNewestPatch checks that bundle create reads a bare minor the
// way resolve does (one flag, one meaning) and takes --catalog-only too.
func TestE2ECreateNewestPatch(t *testing.T) {
	e := env(t)
	for _, tt := range []struct {
		extra []string
		want  string
	}{
		{nil, "1.30.4"},
		{[]string{"--catalog-only"}, "1.30.3"},
	} {
		out := filepath.Join(t.TempDir(), "mesh.tar.zst")
		args := append([]string{"bundle", "create", out, "--istio", "1.30", "--gateway-api", "none",
			"--key", e.key(), "--upstream-key", "istio-release=" + e.istioPub}, tt.extra...)
		_, errOut, code := e.meshpack(t, args...)
		if code != 0 {
			t.Fatalf("bundle create %v: exit %d\n%s", tt.extra, code, errOut)
		}
		if got := openBOM(t, out).Set["istio"]; got != tt.want {
			t.Errorf("bundle create --istio 1.30 %v carried istio %s, want %s", tt.extra, got, tt.want)
		}
		if !strings.Contains(errOut, "istio 1.30 -> "+tt.want) {
			t.Errorf("bundle create %v does not say which patch it took and why:\n%s", tt.extra, errOut)
		}
	}
}

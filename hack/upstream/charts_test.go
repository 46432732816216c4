package upstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"sigs.k8s.io/yaml"
)

// get fetches path from the fixture HTTP server and checks the status.
func get(t *testing.T, u *Upstream, path string, wantStatus int) []byte {
	t.Helper()
	resp, err := http.Get(u.BaseURL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: got status %d, want %d", path, resp.StatusCode, wantStatus)
	}
	return b
}

// untar returns the files of a .tgz by name.
func untar(t *testing.T, tgz []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tar %s: %v", h.Name, err)
		}
		files[h.Name] = b
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// indexEntryFor finds name/version in a Helm repo index.yaml.
func indexEntryFor(t *testing.T, index []byte, name, version string) indexEntry {
	t.Helper()
	var idx repoIndex
	if err := yaml.Unmarshal(index, &idx); err != nil {
		t.Fatalf("index.yaml: %v", err)
	}
	for _, e := range idx.Entries[name] {
		if e.Version == version {
			return e
		}
	}
	t.Fatalf("index.yaml: no %s %s", name, version)
	return indexEntry{}
}

func TestKialiRepo(t *testing.T) {
	u := fixture.u
	const want = "a5570a189af026483b48d03354b55e6e968e30f62cd412f753135f6198d84c7e"
	tgz := get(t, u, "/kiali/helm-charts/kiali-server-2.26.0.tgz", http.StatusOK)
	if got := sha256hex(tgz); got != want {
		t.Errorf("kiali-server-2.26.0.tgz sha256: got %s, want %s", got, want)
	}
	index := get(t, u, "/kiali/helm-charts/index.yaml", http.StatusOK)
	e := indexEntryFor(t, index, "kiali-server", "2.26.0")
	if e.Digest != want {
		t.Errorf("index digest of kiali-server 2.26.0: got %s, want %s", e.Digest, want)
	}
	if diff := cmp.Diff([]string{"https://kiali.org/helm-charts/kiali-server-2.26.0.tgz"}, e.URLs); diff != "" {
		t.Errorf("urls (-want +got):\n%s", diff)
	}
	verbatim, err := os.ReadFile(filepath.Join("..", "..", "testdata", "helm-repo-index", "kiali-helm-charts-index.yaml"))
	if err != nil {
		t.Fatalf("read testdata index: %v", err)
	}
	if !bytes.Equal(index, verbatim) {
		t.Error("served kiali index.yaml differs from testdata, want it verbatim")
	}
	get(t, u, "/kiali/helm-charts/kiali-server-2.25.0.tgz", http.StatusNotFound)
}

func TestIstioRepo(t *testing.T) {
	u := fixture.u
	index := get(t, u, "/istio-release/charts/index.yaml", http.StatusOK)
	for _, name := range istioCharts {
		t.Run(name, func(t *testing.T) {
			e := indexEntryFor(t, index, name, "1.30.3")
			tgz := get(t, u, "/istio-release/charts/"+name+"-1.30.3.tgz", http.StatusOK)
			if got := sha256hex(tgz); got != e.Digest {
				t.Errorf("sha256 of served tgz: got %s, want the index digest %s", got, e.Digest)
			}
			wantURL := "https://istio-release.storage.googleapis.com/charts/" + name + "-1.30.3.tgz"
			if diff := cmp.Diff([]string{wantURL}, e.URLs); diff != "" {
				t.Errorf("urls (-want +got):\n%s", diff)
			}
			if e.APIVersion != "v2" || e.AppVersion != "1.30.3" || e.Created == "" {
				t.Errorf("entry: got apiVersion %q appVersion %q created %q, want v2, 1.30.3, a time", e.APIVersion, e.AppVersion, e.Created)
			}
			files := untar(t, tgz)
			chart := string(files[name+"/Chart.yaml"])
			for _, want := range []string{"\nversion: 1.30.3\n", "\nappVersion: 1.30.3\n", "\nname: " + name + "\n"} {
				if !strings.Contains(chart, want) {
					t.Errorf("%s/Chart.yaml: missing %q:\n%s", name, strings.TrimSpace(want), chart)
				}
			}
			values := string(files[name+"/values.yaml"])
			if strings.Contains(values, "hub: registry.istio.io/testing") || strings.Contains(values, "tag: latest") {
				t.Errorf("%s/values.yaml: still has a development hub or tag", name)
			}
			if name == "istiod" || name == "cni" || name == "ztunnel" {
				for _, want := range []string{"hub: registry.istio.io/release", "tag: 1.30.3"} {
					if !strings.Contains(values, want) {
						t.Errorf("%s/values.yaml: missing %q", name, want)
					}
				}
			}
			if _, ok := files[name+"/templates/zzz_profile.yaml"]; !ok && name != "gateway" {
				t.Errorf("%s: templates/zzz_profile.yaml missing from the package", name)
			}
		})
	}
	get(t, u, "/istio-release/charts/istiod-1.29.6.tgz", http.StatusNotFound)
}

func TestIstioOCICharts(t *testing.T) {
	u := fixture.u
	ctx := context.Background()
	for _, c := range u.Charts() {
		if !strings.HasPrefix(c.OCIReference, istioOCICharts+"/") {
			continue // the user chart has its own test
		}
		t.Run(c.Name, func(t *testing.T) {
			repo, tag, _ := strings.Cut(c.OCIReference, ":")
			r := repository(t, u, repo)
			var m ocispec.Manifest
			desc := fetchJSON(t, r, tag, &m)
			if desc.Digest != c.OCIDigest {
				t.Errorf("manifest digest: got %s, want %s", desc.Digest, c.OCIDigest)
			}
			if m.Config.MediaType != helmConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != helmChartMediaType {
				t.Fatalf("media types: got config %s layers %v, want a Helm chart artifact", m.Config.MediaType, m.Layers)
			}
			if m.Layers[0].Digest != c.Digest {
				t.Errorf("chart layer: got %s, want the .tgz digest %s", m.Layers[0].Digest, c.Digest)
			}
			cb, err := content.FetchAll(ctx, r, m.Config)
			if err != nil {
				t.Fatalf("fetch config: %v", err)
			}
			var meta chartMeta
			if err := json.Unmarshal(cb, &meta); err != nil {
				t.Fatalf("decode config: %v", err)
			}
			if meta.Name != c.Name || meta.Version != "1.30.3" {
				t.Errorf("config: got %s %s, want %s 1.30.3", meta.Name, meta.Version, c.Name)
			}
		})
	}
}

func TestGatewayAPIInstall(t *testing.T) {
	u := fixture.u
	tests := []struct {
		channel string
		dir     string
	}{
		{channel: "standard", dir: "../../testdata/gateway-api-v1.5.1"},
		{channel: "experimental", dir: "../../testdata/gateway-api-v1.5.1/experimental"},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			b := string(get(t, u, "/kubernetes-sigs/gateway-api/releases/download/v1.5.1/"+tt.channel+"-install.yaml", http.StatusOK))
			if !strings.HasPrefix(b, "# Copyright The Kubernetes Authors.\n") {
				t.Errorf("header: got %q, want the license boilerplate", b[:min(len(b), 60)])
			}
			banner := "# Gateway API " + strings.ToUpper(tt.channel[:1]) + tt.channel[1:] + " channel install\n"
			if !strings.Contains(b, banner) {
				t.Errorf("missing banner %q", banner)
			}
			entries, err := os.ReadDir(tt.dir)
			if err != nil {
				t.Fatalf("read %s: %v", tt.dir, err)
			}
			var wantDocs int
			for _, e := range entries {
				if e.IsDir() {
					continue
				}
				marker := "---\n#\n# config/crd/" + tt.channel + "/" + e.Name() + "\n#\n"
				has := strings.Contains(b, marker)
				if e.Name() == "kustomization.yaml" {
					if has || strings.Contains(b, "kustomization.yaml") {
						t.Error("kustomization.yaml included, want it left out")
					}
					continue
				}
				wantDocs++
				if !has {
					t.Errorf("missing %s", e.Name())
				}
				src, err := os.ReadFile(filepath.Join(tt.dir, e.Name()))
				if err != nil {
					t.Fatalf("read %s: %v", e.Name(), err)
				}
				if !strings.Contains(b, marker+string(src)) {
					t.Errorf("%s: content differs from testdata", e.Name())
				}
			}
			if got := strings.Count(b, "\n---\n#\n# config/crd/"); got != wantDocs {
				t.Errorf("files: got %d, want %d", got, wantDocs)
			}
			if tt.channel == "standard" && strings.Contains(b, "gateway.networking.k8s.io/channel: experimental") {
				t.Error("standard install contains experimental CRDs")
			}
		})
	}
	for _, f := range u.Files() {
		b := get(t, u, strings.TrimPrefix(f.LocalURL, u.BaseURL()), http.StatusOK)
		if got := "sha256:" + sha256hex(b); got != f.Digest.String() {
			t.Errorf("Files() %s %s: digest %s, served %s", f.Version, f.Name, f.Digest, got)
		}
	}
}

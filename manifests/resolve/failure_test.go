package resolve_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/remote"
)

// TestResolveExtraImages checks bundles of workload images: pinned like mesh
// images, and a clear error for an image upstream does not have.
func TestResolveExtraImages(t *testing.T) {
	reg := "http://" + fx.u.RegistryHost() + "/"
	tests := []struct {
		name       string
		spec       manifests.Spec
		wantImages []string
		wantCharts int
		wantErr    []string // parts of the error; nil means success
		wantIs     error
	}{
		{
			name:       "istio none carries only the extra image",
			spec:       manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{appImage}},
			wantImages: []string{appImage},
		},
		{
			name:       "docker hub short names are expanded and de-duplicated",
			spec:       manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{"app:1", "library/app:1", webImage}},
			wantImages: []string{appImage, webImage},
		},
		{
			name: "extra images join the mesh images",
			spec: manifests.Spec{
				Istio:       manifests.IstioSpec{Version: istioVersion},
				GatewayAPI:  manifests.GatewayAPI{Enabled: off()},
				ExtraImages: []string{appImage},
			},
			wantImages: []string{hub + "pilot:1.30.3", hub + "proxyv2:1.30.3", appImage},
			wantCharts: 2,
		},
		{
			name:    "unknown repository names the reference and the mirrored location",
			spec:    manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{"docker.io/library/nope:1"}},
			wantErr: []string{"docker.io/library/nope:1", reg + "docker.io/library/nope:1"},
		},
		{
			name:    "unknown tag names the reference and the mirrored location",
			spec:    manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{appImage, "ghcr.io/acme/web:9"}},
			wantErr: []string{"ghcr.io/acme/web:9", reg + "ghcr.io/acme/web:9"},
		},
		{
			name:    "a registry no mirror covers is tried directly",
			spec:    manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{"registry.example.com/team/app:1"}},
			wantErr: []string{"registry.example.com/team/app:1", "https://registry.example.com/team/app:1"},
		},
		{
			name:    "a malformed reference is rejected with its field",
			spec:    manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{"Docker.io/UPPER:1"}},
			wantErr: []string{"extraImages[0]", "Docker.io/UPPER:1"},
			wantIs:  manifests.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock, err := resolveWith(t, tt.spec, resolve.Options{Client: newClient(t, nil)})
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v: want it to match %v", err, tt.wantIs)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tt.wantImages, imageRefs(lock)); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			if len(lock.Charts) != tt.wantCharts || len(lock.Files) != 0 {
				t.Errorf("got %d charts and %d files, want %d and 0", len(lock.Charts), len(lock.Files), tt.wantCharts)
			}
			for _, img := range lock.Images {
				if strings.HasPrefix(img.Reference, hub) {
					continue
				}
				if want := []string{"extra"}; !cmp.Equal(img.Components, want) || img.SignedBy != "" {
					t.Errorf("image %s: got components %v, signedBy %q; want %v, unsigned", img.Reference, img.Components, img.SignedBy, want)
				}
			}
			checkAgainstFixture(t, lock)
		})
	}
}

// TestResolveUnreachable points mirrors at a closed 127.0.0.1 port: Resolve
// must fail quickly with an error naming what it could not reach.
func TestResolveUnreachable(t *testing.T) {
	dead := "http://" + closedAddr(t)
	registryDown := map[string]string{}
	for _, host := range []string{"docker.io", "gcr.io", "ghcr.io", "quay.io", "registry.istio.io"} {
		registryDown[host] = dead + "/" + host
	}
	everythingDown := map[string]string{
		istioChartRepo: dead + "/istio-release/charts",
		kialiChartRepo: dead + "/kiali/helm-charts",
		"https://github.com/kubernetes-sigs/gateway-api/releases/download": dead + "/gateway-api",
	}
	for k, v := range registryDown {
		everythingDown[k] = v
	}
	ambient := manifests.Spec{
		Istio: manifests.IstioSpec{Version: istioVersion, Profile: manifests.ProfileAmbient},
		Kiali: manifests.KialiSpec{Enabled: true},
	}
	tests := []struct {
		name     string
		override map[string]string
		wantErr  []string
	}{
		{name: "everything", override: everythingDown, wantErr: []string{"chart base 1.30.3", dead}},
		{name: "istio chart repository and its OCI copy", override: map[string]string{istioChartRepo: dead + "/istio-release/charts", "gcr.io": dead + "/gcr.io"}, wantErr: []string{"chart base 1.30.3", dead, "Spec.Mirrors"}},
		{name: "kiali chart repository", override: map[string]string{kialiChartRepo: dead + "/kiali/helm-charts"}, wantErr: []string{"helm repository " + kialiChartRepo, dead}},
		{name: "gateway api releases", override: map[string]string{"https://github.com/kubernetes-sigs/gateway-api/releases/download": dead + "/gateway-api"}, wantErr: []string{"gateway-api v1.5.1 standard-install.yaml", dead}},
		{name: "registries", override: registryDown, wantErr: []string{"image ", dead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			lock, err := resolveWith(t, ambient, resolve.Options{Client: newClient(t, tt.override)})
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("Resolve took %v, want a prompt failure", took)
			}
			if lock != nil {
				t.Errorf("got a lock, want none")
			}
			wantErrContains(t, err, tt.wantErr...)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("error %v: want it to match ECONNREFUSED", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

// tamperProxy serves the fixture's HTTP side, changing the bodies of the
// paths in edit.
func tamperProxy(t *testing.T, edit map[string]func([]byte) []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(fx.u.BaseURL() + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if f, ok := edit[r.URL.Path]; ok && resp.StatusCode == http.StatusOK {
			body = f(body)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// replaceOnce replaces old (which must occur) in a body.
func replaceOnce(t *testing.T, old, repl string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			t.Errorf("tamper: %q not in the body", old)
		}
		return bytes.Replace(b, []byte(old), []byte(repl), 1)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestResolveTamperedChart serves charts whose bytes do not match what the
// repository index or the catalog pins: Resolve must refuse them, naming
// the chart and both digests.
func TestResolveTamperedChart(t *testing.T) {
	istiod, ok := publishedChart("istiod", istioVersion)
	if !ok {
		t.Fatal("fixture: no istiod chart")
	}
	kiali, ok := publishedChart("kiali-server", kialiVersion)
	if !ok {
		t.Fatal("fixture: no kiali-server chart")
	}
	istiodHex, kialiHex := istiod.Digest.Encoded(), kiali.Digest.Encoded()
	fake := sha256Hex([]byte("tampered"))
	evilTgz := append([]byte("not the chart"), make([]byte, 64)...)
	evilHex := sha256Hex(evilTgz)

	tests := []struct {
		name    string
		edit    map[string]func([]byte) []byte
		wantErr []string
	}{
		{
			name: "istio index digest differs from the archive",
			edit: map[string]func([]byte) []byte{
				"/istio-release/charts/index.yaml": replaceOnce(t, istiodHex, fake),
			},
			wantErr: []string{"chart istiod 1.30.3", "istiod-1.30.3.tgz", istiodHex, fake, "repository index"},
		},
		{
			name: "kiali index digest differs from the archive",
			edit: map[string]func([]byte) []byte{
				"/kiali/helm-charts/index.yaml": replaceOnce(t, kialiHex, fake),
			},
			wantErr: []string{"chart kiali-server 2.26.0", "kiali-server-2.26.0.tgz", kialiHex, fake, "repository index"},
		},
		{
			name: "kiali archive and index both replaced, caught by the catalog pin",
			edit: map[string]func([]byte) []byte{
				"/kiali/helm-charts/index.yaml":              replaceOnce(t, kialiHex, evilHex),
				"/kiali/helm-charts/kiali-server-2.26.0.tgz": func([]byte) []byte { return evilTgz },
			},
			wantErr: []string{"chart kiali-server 2.26.0", evilHex, kialiChartSHA, "catalog"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := tamperProxy(t, tt.edit)
			c := newClient(t, map[string]string{
				istioChartRepo: proxy.URL + "/istio-release/charts",
				kialiChartRepo: proxy.URL + "/kiali/helm-charts",
			})
			lock, err := resolveWith(t, manifests.Spec{
				Istio: manifests.IstioSpec{Version: istioVersion},
				Kiali: manifests.KialiSpec{Enabled: true},
			}, resolve.Options{Client: c})
			if lock != nil {
				t.Errorf("got a lock, want none")
			}
			wantErrContains(t, err, tt.wantErr...)
			if errors.Is(err, remote.ErrNotFound) {
				t.Errorf("error %v: a digest mismatch must not read as not found", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestResolveCancelled checks that a cancelled context stops Resolve with
// the context's error.
func TestResolveCancelled(t *testing.T) {
	tests := []struct {
		name string
		spec manifests.Spec
	}{
		{name: "mesh", spec: manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion}}},
		{name: "extra images", spec: manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{appImage}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			lock, err := resolve.Resolve(ctx, tt.spec, resolve.Options{Client: newClient(t, nil)})
			if lock != nil || !errors.Is(err, context.Canceled) {
				t.Errorf("got lock %v, error %v; want no lock and context.Canceled", lock != nil, err)
			}
		})
	}
}

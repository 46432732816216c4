package upstream

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// fixture is the upstream shared by the tests of this package, started
// once in TestMain with the default options plus an extra image and a
// recording Sign hook.
var fixture struct {
	u *Upstream

	mu     sync.Mutex
	signed []string // "repo@digest"
}

func TestMain(m *testing.M) {
	u, err := Start(context.Background(), Options{
		ExtraImages: []string{"docker.io/library/app:1"},
		Sign: func(_ context.Context, repo string, desc ocispec.Descriptor) error {
			fixture.mu.Lock()
			defer fixture.mu.Unlock()
			fixture.signed = append(fixture.signed, repo+"@"+desc.Digest.String())
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start fixture upstream:", err)
		os.Exit(1)
	}
	fixture.u = u
	code := m.Run()
	if err := u.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close fixture upstream:", err)
		code = 1
	}
	os.Exit(code)
}

// repository opens path (e.g. "docker.io/istio/pilot") on the fixture
// registry the way a --mirror'ed client would.
func repository(t *testing.T, u *Upstream, path string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(u.RegistryHost() + "/" + path)
	if err != nil {
		t.Fatalf("repository %s: %v", path, err)
	}
	r.PlainHTTP = true
	return r
}

// fetchJSON resolves ref in r and decodes the manifest or index into v.
func fetchJSON(t *testing.T, r *remote.Repository, ref string, v any) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	desc, err := r.Resolve(ctx, ref)
	if err != nil {
		t.Fatalf("resolve %s:%s: %v", r.Reference.Repository, ref, err)
	}
	b, err := content.FetchAll(ctx, r, desc)
	if err != nil {
		t.Fatalf("fetch %s@%s: %v", r.Reference.Repository, desc.Digest, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s@%s: %v", r.Reference.Repository, desc.Digest, err)
	}
	return desc
}

func TestImageIndexes(t *testing.T) {
	u := fixture.u
	tests := []struct {
		repo, tag string
		platforms []string
	}{
		{repo: "docker.io/istio/pilot", tag: "1.30.3-distroless", platforms: istioPlatforms},
		{repo: "docker.io/istio/pilot", tag: "1.30.3", platforms: istioPlatforms},
		{repo: "docker.io/istio/proxyv2", tag: "1.30.3-debug", platforms: istioPlatforms},
		{repo: "docker.io/istio/install-cni", tag: "1.30.3-distroless", platforms: istioPlatforms},
		{repo: "docker.io/istio/ztunnel", tag: "1.30.3", platforms: istioPlatforms},
		{repo: "docker.io/istio/agentgateway", tag: "1.30.3", platforms: istioPlatforms},
		{repo: "registry.istio.io/release/pilot", tag: "1.30.3", platforms: istioPlatforms},
		{repo: "quay.io/kiali/kiali", tag: "v2.26.0", platforms: kialiPlatforms},
		{repo: "quay.io/kiali/kiali", tag: "v2.26", platforms: kialiPlatforms},
		{repo: "docker.io/library/app", tag: "1", platforms: istioPlatforms},
	}
	for _, tt := range tests {
		t.Run(tt.repo+":"+tt.tag, func(t *testing.T) {
			var idx ocispec.Index
			desc := fetchJSON(t, repository(t, u, tt.repo), tt.tag, &idx)
			if desc.MediaType != ocispec.MediaTypeImageIndex {
				t.Errorf("media type: got %s, want %s", desc.MediaType, ocispec.MediaTypeImageIndex)
			}
			var got []string
			for _, m := range idx.Manifests {
				got = append(got, platformString(*m.Platform))
			}
			if diff := cmp.Diff(tt.platforms, got); diff != "" {
				t.Errorf("platforms (-want +got):\n%s", diff)
			}
			info, ok := u.Image(tt.repo + ":" + tt.tag)
			if !ok {
				t.Fatalf("Image(%s:%s): not listed", tt.repo, tt.tag)
			}
			if info.Digest != desc.Digest {
				t.Errorf("Image(%s:%s).Digest: got %s, want %s (served)", tt.repo, tt.tag, info.Digest, desc.Digest)
			}
		})
	}
}

func TestSameDigestTags(t *testing.T) {
	u := fixture.u
	tests := []struct{ a, b string }{
		{a: "docker.io/istio/pilot:1.30.3", b: "docker.io/istio/pilot:1.30.3-debug"},
		{a: "docker.io/istio/pilot:1.30.3", b: "registry.istio.io/release/pilot:1.30.3"},
		{a: "quay.io/kiali/kiali:v2.26.0", b: "quay.io/kiali/kiali:v2.26"},
	}
	for _, tt := range tests {
		t.Run(tt.b, func(t *testing.T) {
			a, _ := u.Image(tt.a)
			b, _ := u.Image(tt.b)
			if a.Digest == "" || a.Digest != b.Digest {
				t.Errorf("digests: got %s = %q and %s = %q, want equal", tt.a, a.Digest, tt.b, b.Digest)
			}
		})
	}
}

// manifestFor returns the platform manifest of repo:tag for platform.
func manifestFor(t *testing.T, u *Upstream, repo, tag, platform string) ocispec.Manifest {
	t.Helper()
	r := repository(t, u, repo)
	var idx ocispec.Index
	fetchJSON(t, r, tag, &idx)
	for _, d := range idx.Manifests {
		if platformString(*d.Platform) == platform {
			var m ocispec.Manifest
			fetchJSON(t, r, d.Digest.String(), &m)
			return m
		}
	}
	t.Fatalf("%s:%s has no %s manifest", repo, tag, platform)
	return ocispec.Manifest{}
}

func TestSharedLayers(t *testing.T) {
	u := fixture.u
	for _, plat := range istioPlatforms {
		t.Run(plat, func(t *testing.T) {
			pilot := manifestFor(t, u, "docker.io/istio/pilot", "1.30.3-distroless", plat)
			proxy := manifestFor(t, u, "docker.io/istio/proxyv2", "1.30.3-distroless", plat)
			pilotDebian := manifestFor(t, u, "docker.io/istio/pilot", "1.30.3", plat)
			proxyDebian := manifestFor(t, u, "docker.io/istio/proxyv2", "1.30.3", plat)
			if pilot.Layers[0].Digest != proxy.Layers[0].Digest {
				t.Errorf("distroless base: pilot %s, proxyv2 %s, want the same", pilot.Layers[0].Digest, proxy.Layers[0].Digest)
			}
			if pilotDebian.Layers[0].Digest != proxyDebian.Layers[0].Digest {
				t.Errorf("debian base: pilot %s, proxyv2 %s, want the same", pilotDebian.Layers[0].Digest, proxyDebian.Layers[0].Digest)
			}
			if pilot.Layers[0].Digest == pilotDebian.Layers[0].Digest {
				t.Errorf("distroless and debian bases are both %s, want different", pilot.Layers[0].Digest)
			}
			if pilot.Layers[1].Digest != pilotDebian.Layers[1].Digest {
				t.Errorf("pilot app layer: distroless %s, default %s, want the same build", pilot.Layers[1].Digest, pilotDebian.Layers[1].Digest)
			}
			if pilot.Layers[1].Digest == proxy.Layers[1].Digest {
				t.Errorf("pilot and proxyv2 app layers are both %s, want different", pilot.Layers[1].Digest)
			}
		})
	}
	amd := manifestFor(t, u, "docker.io/istio/pilot", "1.30.3-distroless", "linux/amd64")
	arm := manifestFor(t, u, "docker.io/istio/pilot", "1.30.3-distroless", "linux/arm64")
	if amd.Layers[0].Digest == arm.Layers[0].Digest {
		t.Errorf("amd64 and arm64 share base %s, want one base per platform", amd.Layers[0].Digest)
	}
}

func TestLayerContent(t *testing.T) {
	// Every layer is a real tar+gzip whose tar digest is the config's
	// diff_id, and compresses like real images (2-3x).
	u := fixture.u
	ctx := context.Background()
	r := repository(t, u, "docker.io/istio/proxyv2")
	m := manifestFor(t, u, "docker.io/istio/proxyv2", "1.30.3", "linux/arm64")
	cb, err := content.FetchAll(ctx, r, m.Config)
	if err != nil {
		t.Fatalf("fetch config: %v", err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cb, &cfg); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	if cfg.Architecture != "arm64" || cfg.OS != "linux" {
		t.Errorf("config platform: got %s/%s, want linux/arm64", cfg.OS, cfg.Architecture)
	}
	var gz int64
	for i, l := range m.Layers {
		rc, err := r.Fetch(ctx, l)
		if err != nil {
			t.Fatalf("fetch layer %s: %v", l.Digest, err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatalf("layer %s: gunzip: %v", l.Digest, err)
		}
		h := sha256.New()
		tr := tar.NewReader(io.TeeReader(zr, h))
		files := 0
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: tar: %v", l.Digest, err)
			}
			files++
		}
		if _, err := io.Copy(h, zr); err != nil { // padding after the end marker
			t.Fatalf("layer %s: gunzip: %v", l.Digest, err)
		}
		rc.Close()
		if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d diff_id: got %s, want %s", i, got, cfg.RootFS.DiffIDs[i])
		}
		if files == 0 {
			t.Errorf("layer %s: no files", l.Digest)
		}
		gz += l.Size
	}
	ratio := float64(u.stats.RawBytes) / float64(u.stats.LayerBytes)
	if ratio < 2 || ratio > 3 {
		t.Errorf("gzip ratio over all layers: got %.2f, want 2-3", ratio)
	}
	if gz < 2<<20 || gz > 8<<20 {
		t.Errorf("proxyv2 arm64 size: got %d bytes, want a few MiB", gz)
	}
}

func TestDeterministic(t *testing.T) {
	opts := Options{Platforms: []string{"linux/amd64"}, LayerScale: 0.05, IstioVersions: []string{"1.29.6"}, KialiVersions: []string{"v2.21.0"}}
	digests := func(o Options) map[string]digest.Digest {
		u, err := Start(context.Background(), o)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		defer u.Close()
		out := map[string]digest.Digest{}
		for _, im := range u.Images() {
			out[im.Reference] = im.Digest
		}
		for _, c := range u.Charts() {
			out[c.URL] = c.Digest
			out[c.OCIReference] = c.OCIDigest
		}
		return out
	}
	first, second := digests(opts), digests(opts)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("digests of two runs (-first +second):\n%s", diff)
	}
	if len(first) < 10 {
		t.Errorf("got %d references, want the whole set", len(first))
	}
	opts.Seed = 7
	third := digests(opts)
	ref := "docker.io/istio/pilot:1.29.6"
	if third[ref] == first[ref] {
		t.Errorf("%s with seed 7: got %s, the seed-0 digest, want a different one", ref, third[ref])
	}
	if _, ok := first["docker.io/istio/agentgateway:1.29.6"]; !ok {
		t.Error("agentgateway 1.29.6: missing, want it (1.29+)")
	}
}

func TestSignHook(t *testing.T) {
	u := fixture.u
	fixture.mu.Lock()
	signed := append([]string(nil), fixture.signed...)
	fixture.mu.Unlock()
	for _, im := range u.Images() {
		want := u.RegistryHost() + "/" + im.Repository + "@" + im.Digest.String()
		got := slices.Contains(signed, want)
		if got != im.Signed {
			t.Errorf("%s: signed %v, want %v", im.Reference, got, im.Signed)
		}
		if im.Signed {
			for _, p := range im.Platforms {
				if w := u.RegistryHost() + "/" + im.Repository + "@" + p.Digest.String(); !slices.Contains(signed, w) {
					t.Errorf("%s %s: platform manifest not signed", im.Reference, p.Platform)
				}
			}
		}
		if strings.HasPrefix(im.Repository, "docker.io/istio/") != im.Signed {
			if !strings.HasPrefix(im.Repository, "registry.istio.io/") {
				t.Errorf("%s: Signed = %v, want only Istio images signed", im.Reference, im.Signed)
			}
		}
	}
}

func TestMirrors(t *testing.T) {
	u := fixture.u
	reg, web := "http://"+u.RegistryHost(), u.BaseURL()
	want := []string{
		"docker.io=" + reg + "/docker.io",
		"gcr.io=" + reg + "/gcr.io",
		"ghcr.io=" + reg + "/ghcr.io",
		"harbor.example.com=" + reg + "/harbor.example.com",
		"https://downloads.example.com=" + web + "/downloads.example.com",
		"https://github.com/istio/istio/releases/download=" + web + "/istio/istio/releases/download",
		"https://github.com/kubernetes-sigs/gateway-api/releases/download=" + web + "/kubernetes-sigs/gateway-api/releases/download",
		"https://istio-release.storage.googleapis.com/charts=" + web + "/istio-release/charts",
		"https://kiali.org/helm-charts=" + web + "/kiali/helm-charts",
		"https://raw.githubusercontent.com/istio/istio=" + web + "/istio/istio",
		"quay.io=" + reg + "/quay.io",
		"registry.istio.io=" + reg + "/registry.istio.io",
	}
	if diff := cmp.Diff(want, u.Mirrors()); diff != "" {
		t.Errorf("Mirrors (-want +got):\n%s", diff)
	}
}

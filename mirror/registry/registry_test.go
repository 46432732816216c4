package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// repo opens host/name over plain HTTP.
func repo(t *testing.T, host, name string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(host + "/" + name)
	if err != nil {
		t.Fatalf("new repository %s/%s: %v", host, name, err)
	}
	r.PlainHTTP = true
	return r
}

// push uploads b with media type mt and returns its descriptor.
func push(ctx context.Context, t *testing.T, r *remote.Repository, mt string, b []byte) ocispec.Descriptor {
	t.Helper()
	desc := content.NewDescriptorFromBytes(mt, b)
	if err := r.Push(ctx, desc, bytes.NewReader(b)); err != nil {
		t.Fatalf("push %s %s: %v", mt, desc.Digest, err)
	}
	return desc
}

// pushJSON marshals v and pushes it with media type mt.
func pushJSON(ctx context.Context, t *testing.T, r *remote.Repository, mt string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %s: %v", mt, err)
	}
	return push(ctx, t, r, mt, b)
}

// pushImage pushes a one-layer image for platform and returns its manifest.
func pushImage(ctx context.Context, t *testing.T, r *remote.Repository, arch, configType, layerType string) ocispec.Descriptor {
	t.Helper()
	layer := push(ctx, t, r, layerType, []byte("layer for "+arch))
	config := push(ctx, t, r, configType, []byte(`{"architecture":"`+arch+`","os":"linux"}`))
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config,
		Layers:    []ocispec.Descriptor{layer},
	}
	desc := pushJSON(ctx, t, r, ocispec.MediaTypeImageManifest, m)
	desc.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
	return desc
}

// fetch reads desc back from r and checks its digest.
func fetch(ctx context.Context, t *testing.T, r *remote.Repository, desc ocispec.Descriptor) []byte {
	t.Helper()
	b, err := content.FetchAll(ctx, r, desc)
	if err != nil {
		t.Fatalf("fetch %s: %v", desc.Digest, err)
	}
	return b
}

func TestPushPull(t *testing.T) {
	ctx := context.Background()
	host := registrytest.New(t)

	tests := []struct {
		name      string
		repo      string
		configMT  string
		layerMT   string
		arches    []string
		wantIndex bool
	}{
		{name: "image", repo: "istio/pilot", configMT: ocispec.MediaTypeImageConfig, layerMT: ocispec.MediaTypeImageLayerGzip, arches: []string{"amd64"}},
		{name: "index children first", repo: "istio/proxyv2", configMT: ocispec.MediaTypeImageConfig, layerMT: ocispec.MediaTypeImageLayerGzip, arches: []string{"amd64", "arm64"}, wantIndex: true},
		{name: "helm chart artifact", repo: "charts/istiod", configMT: "application/vnd.cncf.helm.config.v1+json", layerMT: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", arches: []string{"none"}},
		{name: "cosign signature artifact", repo: "istio/pilot", configMT: "application/vnd.dev.cosign.simplesigning.v1+json", layerMT: "application/vnd.dev.cosign.simplesigning.v1+json", arches: []string{"sig"}},
		{name: "unknown config media type", repo: "files/gateway-api", configMT: "application/vnd.example.anything+json", layerMT: "application/yaml", arches: []string{"yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := repo(t, host, tt.repo)
			var children []ocispec.Descriptor
			for _, a := range tt.arches {
				children = append(children, pushImage(ctx, t, r, a, tt.configMT, tt.layerMT))
			}
			top := children[0]
			if tt.wantIndex {
				top = pushJSON(ctx, t, r, ocispec.MediaTypeImageIndex, ocispec.Index{
					Versioned: specs.Versioned{SchemaVersion: 2},
					MediaType: ocispec.MediaTypeImageIndex,
					Manifests: children,
				})
			}
			if err := r.Tag(ctx, top, "v1"); err != nil {
				t.Fatalf("tag %s: %v", top.Digest, err)
			}

			got, err := r.Resolve(ctx, "v1")
			if err != nil {
				t.Fatalf("resolve %s:v1: %v", tt.repo, err)
			}
			if got.Digest != top.Digest || got.MediaType != top.MediaType {
				t.Errorf("resolve %s:v1: got %s %s, want %s %s", tt.repo, got.MediaType, got.Digest, top.MediaType, top.Digest)
			}
			if tt.wantIndex {
				var idx ocispec.Index
				if err := json.Unmarshal(fetch(ctx, t, r, top), &idx); err != nil {
					t.Fatalf("decode index: %v", err)
				}
				if len(idx.Manifests) != len(tt.arches) {
					t.Errorf("index manifests: got %d, want %d", len(idx.Manifests), len(tt.arches))
				}
			}
			for _, c := range children {
				var m ocispec.Manifest
				if err := json.Unmarshal(fetch(ctx, t, r, c), &m); err != nil {
					t.Fatalf("decode manifest %s: %v", c.Digest, err)
				}
				layer := fetch(ctx, t, r, m.Layers[0])
				if want := "layer for " + c.Platform.Architecture; string(layer) != want {
					t.Errorf("layer of %s: got %q, want %q", c.Digest, layer, want)
				}
				if m.Config.MediaType != tt.configMT {
					t.Errorf("config media type: got %s, want %s", m.Config.MediaType, tt.configMT)
				}
			}
		})
	}
	// Every pushed repository is listed by /v2/_catalog.
	resp, err := http.Get("http://" + host + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cat struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&cat); err != nil {
		t.Fatalf("decode catalog: %v", err)
	}
	want := []string{"charts/istiod", "files/gateway-api", "istio/pilot", "istio/proxyv2"}
	if diff := cmp.Diff(want, cat.Repositories); diff != "" {
		t.Errorf("catalog (-want +got):\n%s", diff)
	}
}

func TestIndexWithAbsentChild(t *testing.T) {
	// A bundle made for linux/amd64 only keeps the upstream index (and its
	// signed digest) but not the arm64 child; the registry must accept it.
	ctx := context.Background()
	r := repo(t, registrytest.New(t), "istio/ztunnel")
	amd := pushImage(ctx, t, r, "amd64", ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip)
	absent := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromString("not pushed"),
		Size:      10,
		Platform:  &ocispec.Platform{OS: "linux", Architecture: "arm64"},
	}
	idx := pushJSON(ctx, t, r, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{amd, absent},
	})
	ok, err := r.Exists(ctx, idx)
	if err != nil || !ok {
		t.Fatalf("index %s exists: got %v, %v, want true", idx.Digest, ok, err)
	}
}

func TestBlobMissing(t *testing.T) {
	ctx := context.Background()
	r := repo(t, registrytest.New(t), "istio/pilot")
	_, err := r.Blobs().Resolve(ctx, digest.FromString("absent").String())
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("resolve absent blob: got %v, want ErrNotFound", err)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	host := registrytest.NewWithConfig(t, registry.Config{ReadOnly: true})
	r := repo(t, host, "istio/pilot")
	b := []byte("x")
	err := r.Push(ctx, content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayerGzip, b), bytes.NewReader(b))
	if err == nil {
		t.Fatal("push to read-only registry: got nil error, want one")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  registry.Config
	}{
		{name: "cert without key", cfg: registry.Config{TLSCert: dir + "/cert.pem"}},
		{name: "missing key pair files", cfg: registry.Config{TLSCert: dir + "/cert.pem", TLSKey: dir + "/key.pem"}},
		{name: "missing htpasswd", cfg: registry.Config{Htpasswd: dir + "/htpasswd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := registry.New(context.Background(), tt.cfg)
			if err == nil {
				srv.Close()
				t.Fatal("new: got nil error, want one")
			}
		})
	}
}

func TestFilesystemRoot(t *testing.T) {
	// Content written through one server is served by the next one on the
	// same root, as `meshpack registry serve --root` restarts expect.
	ctx := context.Background()
	root := t.TempDir()
	host := registrytest.NewWithConfig(t, registry.Config{Root: root})
	r := repo(t, host, "kiali/kiali")
	desc := pushImage(ctx, t, r, "s390x", ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip)
	want := fetch(ctx, t, r, desc)

	host2 := registrytest.NewWithConfig(t, registry.Config{Root: root})
	got := fetch(ctx, t, repo(t, host2, "kiali/kiali"), desc)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manifest after restart (-want +got):\n%s", diff)
	}
}

func TestReferrers(t *testing.T) {
	// OCI 1.1 artifacts with a subject (signatures, SBOMs) are stored, and
	// found again through the referrers tag schema, since Distribution has
	// no referrers API.
	ctx := context.Background()
	r := repo(t, registrytest.New(t), "istio/pilot")
	image := pushImage(ctx, t, r, "amd64", ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip)
	image.Platform = nil
	empty := push(ctx, t, r, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	sig := push(ctx, t, r, "application/vnd.dev.sigstore.bundle.v0.3+json", []byte(`{"signature":"x"}`))
	const artifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	pushJSON(ctx, t, r, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       empty,
		Layers:       []ocispec.Descriptor{sig},
		Subject:      &image,
	})

	var got []string
	err := r.Referrers(ctx, image, "", func(refs []ocispec.Descriptor) error {
		for _, d := range refs {
			got = append(got, d.ArtifactType)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("referrers of %s: %v", image.Digest, err)
	}
	if diff := cmp.Diff([]string{artifactType}, got); diff != "" {
		t.Errorf("referrers (-want +got):\n%s", diff)
	}
}

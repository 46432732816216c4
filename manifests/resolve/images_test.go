package resolve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// pushSingle publishes ref (a repository path below the fixture registry
// plus tag) as one image manifest for platform, not an index, the way
// single-architecture images are (with Docker media types if docker), and
// returns the manifest descriptor.
func pushSingle(t *testing.T, repoPath, tag string, platform ocispec.Platform, docker bool) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	repo, err := remote.NewRepository(fx.u.RegistryHost() + "/" + repoPath)
	if err != nil {
		t.Fatalf("repository %s: %v", repoPath, err)
	}
	repo.PlainHTTP = true
	layer := []byte("single-platform layer " + repoPath)
	cfg, err := json.Marshal(ocispec.Image{Platform: platform, RootFS: ocispec.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	layerType, cfgType, manType := ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if docker {
		layerType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
		cfgType = "application/vnd.docker.container.image.v1+json"
		manType = "application/vnd.docker.distribution.manifest.v2+json"
	}
	layerDesc := content.NewDescriptorFromBytes(layerType, layer)
	cfgDesc := content.NewDescriptorFromBytes(cfgType, cfg)
	man, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: manType,
		Config: cfgDesc, Layers: []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		t.Fatal(err)
	}
	manDesc := content.NewDescriptorFromBytes(manType, man)
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{layerDesc, layer}, {cfgDesc, cfg}} {
		if err := repo.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatalf("push blob %s to %s: %v", b.desc.Digest, repoPath, err)
		}
	}
	if err := repo.PushReference(ctx, manDesc, bytes.NewReader(man), tag); err != nil {
		t.Fatalf("push manifest %s:%s: %v", repoPath, tag, err)
	}
	return manDesc
}

// TestResolveSingleManifest resolves an image published as one manifest
// (no index): the lock names its platform from the image config, and the
// platform filter applies to it like to an index.
func TestResolveSingleManifest(t *testing.T) {
	oci := pushSingle(t, "docker.io/library/single", "1", ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, false)
	docker := pushSingle(t, "docker.io/library/legacy", "1", ocispec.Platform{OS: "linux", Architecture: "amd64"}, true)
	tests := []struct {
		name      string
		ref       string
		desc      ocispec.Descriptor
		platform  string
		platforms []string
		wantErr   []string // parts of the error; nil means success
	}{
		{name: "oci, no filter", ref: "docker.io/library/single:1", desc: oci, platform: "linux/arm64/v8"},
		{name: "oci, matching filter", ref: "docker.io/library/single:1", desc: oci, platform: "linux/arm64/v8", platforms: []string{"linux/arm64"}},
		{
			name: "oci, other platform", ref: "docker.io/library/single:1", platforms: []string{"linux/amd64"},
			wantErr: []string{"docker.io/library/single:1", "linux/arm64/v8", "linux/amd64"},
		},
		{name: "docker media types", ref: "docker.io/library/legacy:1", desc: docker, platform: "linux/amd64", platforms: []string{"linux/amd64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := manifests.Spec{
				Istio:       manifests.IstioSpec{Version: manifests.IstioNone},
				ExtraImages: []string{tt.ref},
				Platforms:   tt.platforms,
			}
			lock, err := resolveWith(t, spec, resolve.Options{Client: newClient(t, nil)})
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			d := tt.desc
			want := []manifests.LockedImage{{
				Name: shortName(tt.ref), Reference: tt.ref, Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size,
				Platforms:  []manifests.LockedPlatform{{Platform: tt.platform, Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size}},
				Components: []string{"extra"},
			}}
			if diff := cmp.Diff(want, lock.Images); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
		})
	}
}

// shortName is "single" for "docker.io/library/single:1".
func shortName(ref string) string {
	name := ref[strings.LastIndex(ref, "/")+1:]
	name, _, _ = strings.Cut(name, "@")
	name, _, _ = strings.Cut(name, ":")
	return name
}

// TestResolveDigestPinnedImage resolves extra images the user pinned by
// digest: the lock keeps the reference as written (canonical) and the
// digest; a digest upstream does not have fails naming it.
func TestResolveDigestPinnedImage(t *testing.T) {
	app, ok := fx.u.Image(appImage)
	if !ok {
		t.Fatalf("fixture: no %s", appImage)
	}
	byDigest := "docker.io/library/app@" + app.Digest.String()
	missing := "docker.io/library/app@sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name    string
		ref     string
		wantRef string
		wantErr []string // parts of the error; nil means success
	}{
		{name: "digest only", ref: "app@" + app.Digest.String(), wantRef: byDigest},
		{name: "tag and digest", ref: appImage + "@" + app.Digest.String(), wantRef: appImage + "@" + app.Digest.String()},
		{name: "unknown digest", ref: missing, wantErr: []string{missing, "http://" + fx.u.RegistryHost() + "/docker.io/library/app@sha256:000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := manifests.Spec{Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: []string{tt.ref}}
			lock, err := resolveWith(t, spec, resolve.Options{Client: newClient(t, nil)})
			if tt.wantErr != nil {
				wantErrContains(t, err, tt.wantErr...)
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if len(lock.Images) != 1 {
				t.Fatalf("got %d images, want 1", len(lock.Images))
			}
			img := lock.Images[0]
			if img.Reference != tt.wantRef || img.Name != "app" || img.Digest != app.Digest.String() || img.Size != app.Size {
				t.Errorf("image: got %s %s %s (%d bytes), want %s app %s (%d bytes)",
					img.Reference, img.Name, img.Digest, img.Size, tt.wantRef, app.Digest, app.Size)
			}
			if got, want := platformPins(img.Platforms), publishedPins(app.Platforms); got != want {
				t.Errorf("platforms: got %s, want %s", got, want)
			}
			if err := lock.Validate(); err != nil {
				t.Errorf("lock.Validate: %v", err)
			}
		})
	}
}

package manifests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fakeDigest is a stable, well-formed digest for fixtures.
func fakeDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func sampleLock() *Lock {
	spec := Spec{Istio: IstioSpec{Version: "1.30.3", Profile: ProfileAmbient}, Kiali: KialiSpec{Enabled: true},
		Platforms: []string{"linux/amd64"}}
	spec.Normalize()
	img := func(name, ref string, comps ...string) LockedImage {
		return LockedImage{
			Name: name, Reference: ref, Digest: fakeDigest(ref), MediaType: "application/vnd.oci.image.index.v1+json", Size: 1609,
			Platforms: []LockedPlatform{
				{Platform: "linux/arm64", Digest: fakeDigest(ref + "arm64"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2061},
				{Platform: "linux/amd64", Digest: fakeDigest(ref + "amd64"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2061},
			},
			Components: comps, SignedBy: "istio-release",
		}
	}
	kiali := img("kiali", "quay.io/kiali/kiali:v2.26.0", "kiali")
	kiali.SignedBy = ""
	return &Lock{
		APIVersion: APIVersion, Kind: LockKind, Spec: spec,
		Set: ResolvedSet{Istio: "1.30.3", Profile: ProfileAmbient, Variants: []string{VariantDistroless}, Kiali: "2.26.0",
			GatewayAPI: "v1.5.1", GatewayAPIChannel: ChannelStandard, Kubernetes: KubernetesRange{Min: "1.32", Max: "1.36"}},
		Images: []LockedImage{
			img("ztunnel", "docker.io/istio/ztunnel:1.30.3-distroless", "ztunnel"),
			kiali,
			img("proxyv2", "docker.io/istio/proxyv2:1.30.3-distroless", "waypoint", "sidecar-injector", "gateway"),
			img("pilot", "docker.io/istio/pilot:1.30.3-distroless", "istiod"),
			img("install-cni", "docker.io/istio/install-cni:1.30.3-distroless", "cni"),
		},
		Charts: []LockedChart{
			{Name: "kiali-server", Version: "2.26.0", Source: "https://kiali.org/helm-charts/kiali-server-2.26.0.tgz",
				Digest:        "sha256:a5570a189af026483b48d03354b55e6e968e30f62cd412f753135f6198d84c7e",
				ContentDigest: "sha256:a5570a189af026483b48d03354b55e6e968e30f62cd412f753135f6198d84c7e", Size: 94613, Pinned: PinnedCatalog},
			{Name: "istiod", Version: "1.30.3", Source: "https://istio-release.storage.googleapis.com/charts/istiod-1.30.3.tgz",
				Digest: fakeDigest("istiod"), ContentDigest: fakeDigest("istiod"), Size: 51234, Pinned: PinnedRepoIndex},
			{Name: "base", Version: "1.30.3", Source: "oci://gcr.io/istio-release/charts/base:1.30.3",
				Digest: fakeDigest("base-manifest"), ContentDigest: fakeDigest("base"), Size: 99123, Pinned: PinnedResolved},
		},
		Files: []LockedFile{{Name: "standard-install.yaml", Component: "gateway-api", Version: "v1.5.1",
			Source: "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml",
			Digest: fakeDigest("gw"), Size: 612345, MediaType: "application/yaml", Pinned: PinnedResolved}},
		Notes: []string{"kiali-server 2.26.0 pinned by the catalog"},
	}
}

func TestLockMarshalGolden(t *testing.T) {
	l := sampleLock()
	before := *l
	before.Images = append([]LockedImage(nil), l.Images...)
	got, err := l.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if diff := cmp.Diff(before.Images, l.Images); diff != "" {
		t.Errorf("Marshal changed its receiver (-before +after):\n%s", diff)
	}
	golden := filepath.Join("testdata", "lock.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test ./manifests -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Marshal differs from %s (-want +got):\n%s", golden, diff)
	}
	again, err := l.Marshal()
	if err != nil || !bytes.Equal(got, again) {
		t.Errorf("Marshal is not deterministic (err %v)", err)
	}
}

func TestLockRoundTrip(t *testing.T) {
	data, err := sampleLock().Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	l, err := LoadLock(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("LoadLock: %v", err)
	}
	want := sampleLock()
	want.Sort()
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("LoadLock(Marshal(l)) (-want +got):\n%s", diff)
	}
	data2, err := l.Marshal()
	if err != nil || !bytes.Equal(data, data2) {
		t.Errorf("second Marshal differs (err %v)", err)
	}
}

func TestLockValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Lock)
		want   []string
	}{
		{name: "sample is valid", mutate: func(*Lock) {}},
		{name: "bad digest", mutate: func(l *Lock) { l.Images[0].Digest = "sha256:ABC" },
			want: []string{`images[0].digest: "sha256:ABC" is not sha256:<64 lowercase hex>`}},
		{name: "zero sizes", mutate: func(l *Lock) { l.Images[1].Size = 0; l.Charts[0].Size = -1; l.Files[0].Size = 0 },
			want: []string{"images[1].size: 0; want the byte size (> 0)", "charts[0].size: -1", "files[0].size: 0"}},
		{name: "reference without tag", mutate: func(l *Lock) { l.Images[0].Reference = "docker.io/istio/install-cni" },
			want: []string{`images[0].reference: "docker.io/istio/install-cni" has neither tag nor digest`}},
		{name: "short reference", mutate: func(l *Lock) { l.Images[0].Reference = "istio/install-cni:1.30.3" },
			want: []string{"images[0].reference: \"istio/install-cni:1.30.3\" is not a fully qualified image reference"}},
		{name: "unsorted images", mutate: func(l *Lock) { l.Images[0], l.Images[1] = l.Images[1], l.Images[0] },
			want: []string{"images[1]: \"docker.io/istio/install-cni:1.30.3-distroless\" is out of order"}},
		{name: "unsorted platforms", mutate: func(l *Lock) {
			p := l.Images[2].Platforms
			p[0], p[1] = p[1], p[0]
		}, want: []string{"images[2].platforms[1]: platform linux/amd64 is out of order"}},
		{name: "bad chart source and pinned", mutate: func(l *Lock) { l.Charts[0].Source = "ftp://x"; l.Charts[0].Pinned = "trust-me" },
			want: []string{`charts[0].source: "ftp://x"`, `charts[0].pinned: "trust-me"`}},
		{name: "mirrors in a lock", mutate: func(l *Lock) { l.Spec.Mirrors = []Mirror{{Origin: "docker.io", Replacement: "x"}} },
			want: []string{"spec.mirrors: a lock names canonical upstream sources only"}},
		{name: "kind and set", mutate: func(l *Lock) { l.Kind = "Lock"; l.Set.Istio = "1.30" },
			want: []string{`kind: "Lock" is not MeshLock`, `set.istio: "1.30" is not an exact version`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sampleLock()
			l.Sort()
			tt.mutate(l)
			err := l.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate: got %v, want an ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadLockStrict(t *testing.T) {
	data, err := sampleLock().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "    mediaType: application/vnd.oci.image.index.v1+json\n",
		"    mediaType: application/vnd.oci.image.index.v1+json\n    digestt: x\n", 1)
	_, err = LoadLock(strings.NewReader(bad))
	if err == nil || !strings.Contains(err.Error(), "lock: images[0].digestt: unknown field") {
		t.Errorf("LoadLock: got %v, want an unknown-field error at images[0].digestt", err)
	}
}

func FuzzLoadLock(f *testing.F) {
	data, err := sampleLock().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add("images: [{platforms: [{size: 1}]}]\n")
	f.Fuzz(func(t *testing.T, in string) {
		l, err := LoadLock(strings.NewReader(in))
		if err != nil {
			return
		}
		if _, err := l.Marshal(); err != nil {
			t.Errorf("Marshal of a valid lock: %v", err)
		}
	})
}

package manifests

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadSpecStrict(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr []string // substrings, each must appear
	}{
		{
			name: "unknown nested field has its path",
			in: `apiVersion: meshpack.lattice.dev/v1alpha1
kind: MeshBundle
istio:
  version: "1.30"
  profil: ambient
`,
			wantErr: []string{"spec: istio.profil: unknown field (line 5)"},
		},
		{
			name:    "unknown top-level field",
			in:      "apiVersion: x\nistios: {}\n",
			wantErr: []string{"istios: unknown field (line 2)"},
		},
		{
			name:    "bool field given a string",
			in:      "istio:\n  version: \"1.30\"\n  cni: yes please\n",
			wantErr: []string{`istio.cni: want true or false, got "yes please" (line 3)`},
		},
		{
			name:    "list given a scalar",
			in:      "istio: {version: \"1.30\"}\nplatforms: linux/amd64\n",
			wantErr: []string{`platforms: want a list, got "linux/amd64"`},
		},
		{
			name:    "unknown field in list item",
			in:      "istio: {version: \"1.30\"}\nmirrors:\n  - origin: docker.io\n    replacment: x\n",
			wantErr: []string{"mirrors[0].replacment: unknown field (line 4)"},
		},
		{
			name:    "duplicate field",
			in:      "istio:\n  version: \"1.30\"\n  version: \"1.29\"\n",
			wantErr: []string{"istio.version: duplicate field (line 3)"},
		},
		{
			name:    "all problems at once",
			in:      "a: 1\nistio:\n  b: 2\nkiali:\n  enabled: maybe\n",
			wantErr: []string{"spec: 3 problems:", "\ta: unknown field (line 1)", "\tistio.b: unknown field (line 3)", "\tkiali.enabled: want true or false"},
		},
		{
			name:    "two documents",
			in:      "istio: {version: \"1.30\"}\n---\nistio: {version: \"1.29\"}\n",
			wantErr: []string{"more than one YAML document"},
		},
		{
			name:    "empty",
			in:      "",
			wantErr: []string{"spec: empty document"},
		},
		{
			name:    "not yaml",
			in:      "istio: [\n",
			wantErr: []string{"spec: not valid YAML"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSpec(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("LoadSpec: got nil error, want %q", tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadSpecKeepsNumberText(t *testing.T) {
	in := `apiVersion: meshpack.lattice.dev/v1alpha1
kind: MeshBundle
metadata: {name: demo}
istio:
  version: 1.30
  profile: ambient
  ingressGateway: true
kiali: {enabled: true, version: 2.26}
gatewayAPI: {enabled: false}
platforms: [linux/amd64, linux/arm64]
extraImages: [nginx:1.27]
mirrors:
  - {origin: docker.io, replacement: "nexus.example.com/dockerhub"}
`
	s, err := LoadSpec(strings.NewReader(in))
	if err != nil {
		t.Fatalf("LoadSpec: %v", err)
	}
	off := false
	want := &Spec{
		APIVersion: APIVersion, Kind: SpecKind, Metadata: SpecMetadata{Name: "demo"},
		Istio:       IstioSpec{Version: "1.30", Profile: ProfileAmbient, IngressGateway: true},
		Kiali:       KialiSpec{Enabled: true, Version: "2.26"},
		GatewayAPI:  GatewayAPI{Enabled: &off},
		Platforms:   []string{"linux/amd64", "linux/arm64"},
		ExtraImages: []string{"nginx:1.27"},
		Mirrors:     []Mirror{{Origin: "docker.io", Replacement: "nexus.example.com/dockerhub"}},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("LoadSpec (-want +got):\n%s", diff)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func validSpec() Spec {
	return Spec{APIVersion: APIVersion, Kind: SpecKind, Istio: IstioSpec{Version: "1.30"}}
}

func TestSpecValidate(t *testing.T) {
	on := true
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   []string
	}{
		{name: "minimal is valid", mutate: func(*Spec) {}},
		{name: "exact version", mutate: func(s *Spec) { s.Istio.Version = "1.30.3" }},
		{name: "none with extra images", mutate: func(s *Spec) { s.Istio.Version = IstioNone; s.ExtraImages = []string{"nginx"} }},
		{name: "bad apiVersion and kind", mutate: func(s *Spec) { s.APIVersion = "v1"; s.Kind = "Mesh" },
			want: []string{`apiVersion: "v1" is not meshpack.lattice.dev/v1alpha1`, `kind: "Mesh" is not MeshBundle`}},
		{name: "missing version", mutate: func(s *Spec) { s.Istio.Version = "" }, want: []string{"istio.version: required"}},
		{name: "bad version", mutate: func(s *Spec) { s.Istio.Version = "latest" }, want: []string{`istio.version: "latest" is not a minor`}},
		{name: "bad profile", mutate: func(s *Spec) { s.Istio.Profile = "sidecars" },
			want: []string{`istio.profile: "sidecars" is not one of sidecar, ambient`}},
		{name: "bad variant", mutate: func(s *Spec) { s.Istio.Variant = "debug" },
			want: []string{`istio.variant: "debug" is not one of default, distroless, both`}},
		{name: "bad kiali version", mutate: func(s *Spec) { s.Kiali.Version = "two" }, want: []string{`kiali.version: "two"`}},
		{name: "kiali without istio needs a version", mutate: func(s *Spec) { s.Istio.Version = IstioNone; s.Kiali.Enabled = true },
			want: []string{"kiali.version: required when istio.version is none"}},
		{name: "gateway api without istio needs a version", mutate: func(s *Spec) { s.Istio.Version = IstioNone; s.GatewayAPI.Enabled = &on },
			want: []string{"gatewayAPI.version: required"}},
		{name: "bad channel", mutate: func(s *Spec) { s.GatewayAPI.Channel = "beta" },
			want: []string{`gatewayAPI.channel: "beta" is not one of standard, experimental`}},
		{name: "bad platforms", mutate: func(s *Spec) { s.Platforms = []string{"linux", "linux/amd64", "Linux/ARM64", "a/b/c/d"} },
			want: []string{"platforms[0]: platform \"linux\"", "platforms[2]:", "platforms[3]:"}},
		{name: "bad image", mutate: func(s *Spec) { s.ExtraImages = []string{"nginx:1.27", "nginx:bad tag", "x@sha256:abc"} },
			want: []string{"extraImages[1]:", "extraImages[2]:"}},
		{name: "bad mirrors", mutate: func(s *Spec) {
			s.Mirrors = []Mirror{{Origin: "docker.io", Replacement: ""}, {Origin: "", Replacement: "x"}, {Origin: "docker.io/", Replacement: "y"}}
		}, want: []string{"mirrors[0].replacement: empty", "mirrors[1].origin: empty", `mirrors[2].origin: "docker.io" is mirrored twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			err := s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: got nil, want %q", tt.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(ve.Problems), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestSpecNormalize(t *testing.T) {
	on, off := true, false
	tests := []struct {
		name string
		in   Spec
		want Spec
	}{
		{
			name: "sidecar defaults",
			in:   Spec{Istio: IstioSpec{Version: "1.30"}},
			want: Spec{APIVersion: APIVersion, Kind: SpecKind,
				Istio:      IstioSpec{Version: "1.30", Profile: ProfileSidecar, Variant: VariantDefault},
				GatewayAPI: GatewayAPI{Enabled: &on, Channel: ChannelStandard}},
		},
		{
			name: "ambient is distroless",
			in:   Spec{Istio: IstioSpec{Version: "v1.30.3", Profile: ProfileAmbient}, Kiali: KialiSpec{Enabled: true, Version: "v2.26.0"}},
			want: Spec{APIVersion: APIVersion, Kind: SpecKind,
				Istio:      IstioSpec{Version: "1.30.3", Profile: ProfileAmbient, Variant: VariantDistroless},
				Kiali:      KialiSpec{Enabled: true, Version: "2.26.0"},
				GatewayAPI: GatewayAPI{Enabled: &on, Channel: ChannelStandard}},
		},
		{
			name: "explicit variant and gateway api kept",
			in: Spec{Istio: IstioSpec{Version: "1.30", Profile: ProfileAmbient, Variant: VariantBoth},
				GatewayAPI: GatewayAPI{Version: "1.5.1", Channel: ChannelExperimental}},
			want: Spec{APIVersion: APIVersion, Kind: SpecKind,
				Istio:      IstioSpec{Version: "1.30", Profile: ProfileAmbient, Variant: VariantBoth},
				GatewayAPI: GatewayAPI{Enabled: &on, Version: "v1.5.1", Channel: ChannelExperimental}},
		},
		{
			name: "none carries no gateway api and lists are sorted",
			in: Spec{Istio: IstioSpec{Version: IstioNone}, Platforms: []string{"linux/arm64", " linux/amd64", "linux/arm64"},
				ExtraImages: []string{"b", "a", "b"},
				Mirrors:     []Mirror{{Origin: "quay.io/", Replacement: "m/"}, {Origin: "docker.io", Replacement: "n"}}},
			want: Spec{APIVersion: APIVersion, Kind: SpecKind, Istio: IstioSpec{Version: IstioNone},
				GatewayAPI: GatewayAPI{Enabled: &off},
				Platforms:  []string{"linux/amd64", "linux/arm64"}, ExtraImages: []string{"a", "b"},
				Mirrors: []Mirror{{Origin: "docker.io", Replacement: "n"}, {Origin: "quay.io", Replacement: "m"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.Normalize()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Normalize (-want +got):\n%s", diff)
			}
			again := got
			again.Normalize()
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("Normalize is not idempotent (-first +second):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate after Normalize: %v", err)
			}
		})
	}
}

func TestSpecVariants(t *testing.T) {
	tests := []struct {
		profile, variant string
		want             []string
	}{
		{"", "", []string{"default"}},
		{ProfileAmbient, "", []string{"distroless"}},
		{ProfileAmbient, VariantDefault, []string{"default"}},
		{ProfileSidecar, VariantBoth, []string{"default", "distroless"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.variant, func(t *testing.T) {
			s := Spec{Istio: IstioSpec{Version: "1.30", Profile: tt.profile, Variant: tt.variant}}
			if diff := cmp.Diff(tt.want, s.Variants()); diff != "" {
				t.Errorf("Variants (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzLoadSpec(f *testing.F) {
	f.Add("istio: {version: \"1.30\"}\n")
	f.Add("a: [1, {b: c}]\nistio: &x {version: 1}\nkiali: *x\n")
	f.Add("mirrors:\n  - origin: docker.io\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := LoadSpec(strings.NewReader(in))
		if err != nil {
			return
		}
		s.Normalize()
		_ = s.Validate()
	})
}

func TestLoadAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &a [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("{platform: linux/amd64, digest: d, size: 1}")
	}
	b.WriteString("]\nimages:\n")
	for range 2000 {
		b.WriteString("  - platforms: *a\n")
	}
	_, err := LoadLock(strings.NewReader(b.String()))
	if err == nil || !strings.Contains(err.Error(), "refusing to decode it") {
		t.Errorf("LoadLock(alias bomb): got %.300v, want a refusal", err)
	}
}

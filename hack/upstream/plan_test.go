package upstream

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1GiB", want: 1 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "1.5GB", want: 1500000000},
		{in: "100 KiB", want: 100 << 10},
		{in: "1048576", want: 1 << 20},
		{in: "12B", want: 12},
		{in: "1GiBs", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSize(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseSize(%q): got %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitRef(t *testing.T) {
	tests := []struct {
		in, repo, tag string
		wantErr       bool
	}{
		{in: "docker.io/library/app:1", repo: "docker.io/library/app", tag: "1"},
		{in: "app:1", repo: "docker.io/library/app", tag: "1"},
		{in: "bitnami/nginx", repo: "docker.io/bitnami/nginx", tag: "latest"},
		{in: "ghcr.io/org/tool:v2", repo: "ghcr.io/org/tool", tag: "v2"},
		{in: "localhost:5000/app", repo: "localhost:5000/app", tag: "latest"},
		{in: "app@sha256:abc", wantErr: true},
		{in: "App:1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			repo, tag, err := splitRef(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("splitRef(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if repo != tt.repo || tag != tt.tag {
				t.Errorf("splitRef(%q): got %q %q, want %q %q", tt.in, repo, tag, tt.repo, tt.tag)
			}
		})
	}
}

func TestStampIstio(t *testing.T) {
	src := []chartFile{
		{path: "Chart.yaml", data: []byte("apiVersion: v2\nname: istiod\nversion: 1.0.0\nappVersion: 1.0.0\n")},
		{path: "values.yaml", data: []byte("_internal_defaults_do_not_set:\n  global:\n    # Dev builds from prow are on registry.istio.io/testing.\n    hub: registry.istio.io/testing\n    tag: latest\n    other: gcr.io/istio-testing\n")},
		{path: "files/profile-demo.yaml", data: []byte("hub: registry.istio.io/testing\n")},
	}
	tests := []struct {
		version, chart, values string
	}{
		{
			version: "1.30.3",
			chart:   "apiVersion: v2\nname: istiod\nversion: 1.30.3\nappVersion: 1.30.3\n",
			values:  "_internal_defaults_do_not_set:\n  global:\n    # Dev builds from prow are on registry.istio.io/testing.\n    hub: registry.istio.io/release\n    tag: 1.30.3\n    other: gcr.io/istio-testing\n",
		},
		{
			version: "1.29.6",
			chart:   "apiVersion: v2\nname: istiod\nversion: 1.29.6\nappVersion: 1.29.6\n",
			values:  "_internal_defaults_do_not_set:\n  global:\n    # Dev builds from prow are on registry.istio.io/testing.\n    hub: docker.io/istio\n    tag: 1.29.6\n    other: gcr.io/istio-testing\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			got := stampIstio(src, semver.MustParse(tt.version))
			if diff := cmp.Diff(tt.chart, string(got[0].data)); diff != "" {
				t.Errorf("Chart.yaml (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.values, string(got[1].data)); diff != "" {
				t.Errorf("values.yaml (-want +got):\n%s", diff)
			}
			if string(got[2].data) != string(src[2].data) {
				t.Errorf("files/profile-demo.yaml: got %q, want it untouched (release-builder stamps only Chart.yaml and values.yaml)", got[2].data)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "istio version", opts: Options{IstioVersions: []string{"1.30"}}, want: "istio version"},
		{name: "kiali version", opts: Options{KialiVersions: []string{"latest"}}, want: "kiali version"},
		{name: "platform", opts: Options{Platforms: []string{"amd64"}}, want: "platform"},
		{name: "extra image", opts: Options{ExtraImages: []string{"x@sha256:00"}}, want: "extra image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.opts.withDefaults()
			if err != nil {
				t.Fatalf("defaults: %v", err)
			}
			_, err = plan(opts, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("plan: got %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestScaleFor(t *testing.T) {
	opts, err := Options{}.withDefaults()
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, want := range []int64{256 << 20, 1 << 30, 10 << 30} {
		scale, err := scaleFor(opts, want)
		if err != nil {
			t.Fatalf("scaleFor: %v", err)
		}
		p, err := plan(opts, scale)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		var raw int64
		for _, l := range p.order {
			raw += l.size
		}
		if est := float64(raw) / ratioEstimate; est < 0.98*float64(want) || est > 1.02*float64(want) {
			t.Errorf("scaleFor(%d): planned %d raw bytes ≈ %.0f gzip, want ≈ %d", want, raw, est, want)
		}
	}
}

func TestLayerBuildDeterministic(t *testing.T) {
	dir := t.TempDir()
	build := func(seed int64, key string) *layerSpec {
		l := &layerSpec{key: key, kind: kindApp, size: 1 << 20, binary: "usr/local/bin/x"}
		if _, err := l.build(seed, dir); err != nil {
			t.Fatalf("build %s: %v", key, err)
		}
		return l
	}
	a, b := build(1, "app/x"), build(1, "app/x")
	if a.desc.Digest != b.desc.Digest || a.diffID != b.diffID {
		t.Errorf("same seed and key: got %s and %s, want equal", a.desc.Digest, b.desc.Digest)
	}
	if c := build(2, "app/x"); c.desc.Digest == a.desc.Digest {
		t.Errorf("seed 2: got %s, the seed-1 digest", c.desc.Digest)
	}
	if d := build(1, "app/y"); d.desc.Digest == a.desc.Digest {
		t.Errorf("key app/y: got %s, the app/x digest", d.desc.Digest)
	}
}

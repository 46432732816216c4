package manifests

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// tagsFor publishes the plain and distroless tags of versions for images.
func tagsFor(images []string, versions ...string) map[string][]string {
	out := map[string][]string{}
	for _, img := range images {
		repo := "docker.io/istio/" + img
		for _, v := range versions {
			out[repo] = append(out[repo], v, v+"-distroless")
		}
	}
	return out
}

func TestChooseNewestPatch(t *testing.T) {
	c := defaultCatalog(t)
	sidecar := ImageOptions{Profile: ProfileSidecar}
	ambient := ImageOptions{Profile: ProfileAmbient}
	tests := []struct {
		name        string
		minor       string
		charts      map[string][]string
		tags        map[string][]string
		opts        ImageOptions
		want        string
		wantSkipped []string
		wantReason  string
		wantErr     string
	}{
		{
			name:       "newer patch published completely",
			minor:      "1.30",
			charts:     map[string][]string{"base": {"1.30.4", "1.30.3"}, "istiod": {"1.30.4", "1.30.3"}},
			tags:       tagsFor([]string{"pilot", "proxyv2"}, "1.30.3", "1.30.4"),
			opts:       sidecar,
			want:       "1.30.4",
			wantReason: "newer than the catalog's choice 1.30.3",
		},
		{
			name:        "chart without images is not picked",
			minor:       "1.30",
			charts:      map[string][]string{"base": {"1.30.5", "1.30.4"}, "istiod": {"1.30.5", "1.30.4"}},
			tags:        tagsFor([]string{"pilot", "proxyv2"}, "1.30.4"),
			opts:        sidecar,
			want:        "1.30.4",
			wantSkipped: []string{"1.30.5: charts published but no image tag docker.io/istio/pilot:1.30.5, docker.io/istio/proxyv2:1.30.5"},
		},
		{
			name:        "one image missing",
			minor:       "1.30",
			charts:      map[string][]string{"base": {"1.30.5", "1.30.3"}, "istiod": {"1.30.5", "1.30.3"}},
			tags:        map[string][]string{"docker.io/istio/pilot": {"1.30.3", "1.30.5"}, "docker.io/istio/proxyv2": {"1.30.3"}},
			opts:        sidecar,
			want:        "1.30.3",
			wantSkipped: []string{"1.30.5: charts published but no image tag docker.io/istio/proxyv2:1.30.5"},
			wantReason:  "the same as the catalog's choice",
		},
		{
			name:        "a chart missing from the index",
			minor:       "1.30",
			charts:      map[string][]string{"base": {"1.30.4", "1.30.3"}, "istiod": {"1.30.3"}},
			tags:        tagsFor([]string{"pilot", "proxyv2"}, "1.30.3", "1.30.4"),
			opts:        sidecar,
			want:        "1.30.3",
			wantSkipped: []string{"1.30.4: chart istiod not in the index"},
		},
		{
			name:        "ambient needs the distroless tags of every ambient image",
			minor:       "1.30",
			charts:      map[string][]string{"base": {"1.30.4", "1.30.3"}, "istiod": {"1.30.4", "1.30.3"}, "cni": {"1.30.4", "1.30.3"}, "ztunnel": {"1.30.4", "1.30.3"}},
			tags:        mergeTags(tagsFor([]string{"pilot", "proxyv2", "install-cni", "ztunnel"}, "1.30.3"), map[string][]string{"docker.io/istio/pilot": {"1.30.4-distroless"}, "docker.io/istio/proxyv2": {"1.30.4-distroless"}, "docker.io/istio/install-cni": {"1.30.4-distroless"}, "docker.io/istio/ztunnel": {"1.30.4"}}),
			opts:        ambient,
			want:        "1.30.3",
			wantSkipped: []string{"1.30.4: charts published but no image tag docker.io/istio/ztunnel:1.30.4-distroless"},
		},
		{
			name:       "pre-releases and other minors are never picked",
			minor:      "1.30",
			charts:     map[string][]string{"base": {"1.31.0", "1.30.9-rc.0", "1.30.3"}, "istiod": {"1.31.0", "1.30.9-rc.0", "1.30.3"}},
			tags:       tagsFor([]string{"pilot", "proxyv2"}, "1.30.3", "1.30.9-rc.0", "1.31.0"),
			opts:       sidecar,
			want:       "1.30.3",
			wantReason: "the same as the catalog's choice",
		},
		{
			name:       "a patch the catalog never saw",
			minor:      "1.30",
			charts:     map[string][]string{"base": {"1.30.7"}, "istiod": {"v1.30.7"}},
			tags:       tagsFor([]string{"pilot", "proxyv2"}, "1.30.7"),
			opts:       sidecar,
			want:       "1.30.7",
			wantReason: "newer than the catalog's choice 1.30.3",
		},
		{
			name:       "upstream older than the catalog",
			minor:      "1.29",
			charts:     map[string][]string{"base": {"1.29.5"}, "istiod": {"1.29.5"}},
			tags:       tagsFor([]string{"pilot", "proxyv2"}, "1.29.5"),
			opts:       sidecar,
			want:       "1.29.5",
			wantReason: "older than the catalog's choice 1.29.6",
		},
		{
			name:    "nothing published completely",
			minor:   "1.30",
			charts:  map[string][]string{"base": {"1.30.4"}, "istiod": {"1.30.4"}},
			tags:    map[string][]string{},
			opts:    sidecar,
			wantErr: "1.30.4: charts published but no image tag",
		},
		{
			name:    "empty index",
			minor:   "1.30",
			charts:  map[string][]string{"base": nil, "istiod": nil},
			opts:    sidecar,
			wantErr: "the index lists no 1.30 patch",
		},
		{
			name:    "unknown minor",
			minor:   "1.40",
			charts:  map[string][]string{"base": {"1.40.0"}, "istiod": {"1.40.0"}},
			opts:    sidecar,
			wantErr: "known minors",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := PatchEvidence{ChartIndex: "https://charts.example/index.yaml", Charts: tt.charts, Tags: tt.tags}
			got, choice, err := c.ChooseNewestPatch(tt.minor, ev, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error mentioning %q", got, err, tt.wantErr)
				}
				if tt.minor == "1.30" && !errors.Is(err, ErrNoPublishedPatch) {
					t.Errorf("error %v does not match ErrNoPublishedPatch", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ChooseNewestPatch: %v", err)
			}
			if got != tt.want {
				t.Errorf("chose %s, want %s (record %+v)", got, tt.want, choice)
			}
			if choice.Source != IstioFromUpstream || choice.Requested != tt.minor || choice.ChartIndex != ev.ChartIndex {
				t.Errorf("record %+v: want source upstream, requested %s, index %s", choice, tt.minor, ev.ChartIndex)
			}
			if !slices.Equal(choice.Skipped, tt.wantSkipped) {
				t.Errorf("skipped %q, want %q", choice.Skipped, tt.wantSkipped)
			}
			if !slices.Contains(choice.Published, got) || !slices.IsSortedFunc(choice.Published, compareVersions) {
				t.Errorf("published %v: want an ascending list holding %s", choice.Published, got)
			}
			if !strings.Contains(choice.Reason, tt.wantReason) || !strings.Contains(choice.Reason, ev.ChartIndex) {
				t.Errorf("reason %q: want it to name the index and say %q", choice.Reason, tt.wantReason)
			}
			for _, s := range tt.wantSkipped {
				if !strings.Contains(choice.Reason, s) {
					t.Errorf("reason %q does not say why %q was skipped", choice.Reason, s)
				}
			}
		})
	}
}

func mergeTags(a, b map[string][]string) map[string][]string {
	for k, v := range b {
		a[k] = append(a[k], v...)
	}
	return a
}

func compareVersions(a, b string) int {
	switch outsideBounds(a, b, b) {
	case "below":
		return -1
	case "above":
		return 1
	}
	return 0
}

func TestImageRepositories(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		opts ImageOptions
		want []string
	}{
		{ImageOptions{Profile: ProfileSidecar}, []string{"docker.io/istio/pilot", "docker.io/istio/proxyv2"}},
		{ImageOptions{Profile: ProfileAmbient}, []string{"docker.io/istio/install-cni", "docker.io/istio/pilot", "docker.io/istio/proxyv2", "docker.io/istio/ztunnel"}},
		{ImageOptions{Profile: ProfileSidecar, CNI: true, Agentgateway: true}, []string{"docker.io/istio/agentgateway", "docker.io/istio/install-cni", "docker.io/istio/pilot", "docker.io/istio/proxyv2"}},
	}
	for _, tt := range tests {
		got, err := c.ImageRepositories("1.30", tt.opts)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ImageRepositories(1.30, %+v) = %v, %v; want %v", tt.opts, got, err, tt.want)
		}
	}
}

func TestUnknownMinor(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		version     string
		wantErr     []string
		wantEOL     bool
		wantNearest string
	}{
		{"1.19", []string{"istio 1.19: end of life: older than 1.26", "known minors: 1.26"}, true, "1.26"},
		{"1.32", []string{"istio 1.32: version not in catalog", "known minors: 1.26"}, false, "1.31"},
		{"1.32.1", []string{"istio 1.32.1: version not in catalog"}, false, "1.31"},
	}
	for _, tt := range tests {
		_, err := c.ResolveIstio(tt.version)
		var ue *UnknownMinorError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("ResolveIstio(%s) = %v, want an *UnknownMinorError matching ErrUnknownVersion", tt.version, err)
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ResolveIstio(%s): error %q does not say %q", tt.version, err, w)
			}
		}
		if ue.EndOfLife != tt.wantEOL || ue.Nearest != tt.wantNearest {
			t.Errorf("ResolveIstio(%s): end of life %v nearest %s, want %v %s", tt.version, ue.EndOfLife, ue.Nearest, tt.wantEOL, tt.wantNearest)
		}
	}
}

func TestProvisionalMinor(t *testing.T) {
	c := defaultCatalog(t)
	pc, note, err := c.ProvisionalMinor("1.32")
	if err != nil {
		t.Fatal(err)
	}
	if c.Release("1.32") != nil {
		t.Fatal("ProvisionalMinor changed the catalog it was called on")
	}
	rel := pc.Release("1.32")
	if rel == nil || rel.Latest != "" || len(rel.Patches) != 0 || rel.Kubernetes != c.Release("1.31").Kubernetes || rel.GatewayAPI != c.Release("1.31").GatewayAPI {
		t.Fatalf("provisional 1.32 = %+v, want 1.31's rules and no patches", rel)
	}
	if last := pc.Istio[len(pc.Istio)-1].Minor; last != "1.32" {
		t.Errorf("newest minor of the copy is %s, want 1.32 (minors stay ordered)", last)
	}
	for _, w := range []string{"unsupported", "istio 1.32 is not in the catalog", "rules of istio 1.31"} {
		if !strings.Contains(note, w) {
			t.Errorf("note %q does not say %q", note, w)
		}
	}
	if imgs, err := pc.ExpectedImages("1.32.0", ImageOptions{}); err != nil || len(imgs) != 2 {
		t.Errorf("ExpectedImages(1.32.0) = %v, %v; want pilot and proxyv2", imgs, err)
	}
	if same, note, err := c.ProvisionalMinor("1.30"); same != c || note != "" || err != nil {
		t.Errorf("ProvisionalMinor(1.30) of a known minor = %p, %q, %v; want the catalog itself", same, note, err)
	}
}

func TestGatewayAPIKubernetesFloor(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		name    string
		set     ResolvedSet
		wantErr string // the violation message part; "" for none
	}{
		{"v1.5.1 on 1.29", ResolvedSet{Istio: "1.26.8", GatewayAPI: "v1.5.1", ClusterKubernetes: "1.29"}, "kubernetes 1.29 is below 1.30, the oldest Kubernetes gateway-api v1.5.1 supports: its install YAML carries a ValidatingAdmissionPolicy"},
		{"v1.5.1 on 1.29.9", ResolvedSet{Istio: "1.26.8", GatewayAPI: "v1.5.1", ClusterKubernetes: "1.29.9"}, "below 1.30"},
		{"v1.5.1 on 1.30", ResolvedSet{Istio: "1.26.8", GatewayAPI: "v1.5.1", ClusterKubernetes: "1.30"}, ""},
		{"v1.4.1 on 1.29", ResolvedSet{Istio: "1.26.8", GatewayAPI: "v1.4.1", ClusterKubernetes: "1.29"}, ""},
		{"no cluster version", ResolvedSet{Istio: "1.26.8", GatewayAPI: "v1.6.1"}, ""},
		{"gateway api not in the catalog", ResolvedSet{Istio: "1.26.8", GatewayAPI: "v1.9.0", ClusterKubernetes: "1.29"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var floor []Violation
			for _, v := range c.CheckCompatibility(tt.set) {
				if v.Rule == "gateway-api-kubernetes" {
					floor = append(floor, v)
				} else {
					t.Errorf("unexpected violation %s: %s", v.Rule, v.Message)
				}
			}
			switch {
			case tt.wantErr == "" && len(floor) > 0:
				t.Errorf("got %v, want no floor violation", floor)
			case tt.wantErr != "" && (len(floor) != 1 || !strings.Contains(floor[0].Message, tt.wantErr)):
				t.Errorf("got %v, want one violation saying %q", floor, tt.wantErr)
			}
		})
	}
	if min, why := c.GatewayAPIKubernetesMin("1.5.1"); min != "1.30" || !strings.Contains(why, "admissionregistration.k8s.io/v1") {
		t.Errorf("GatewayAPIKubernetesMin(1.5.1) = %q, %q", min, why)
	}
}

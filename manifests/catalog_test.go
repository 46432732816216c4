package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func defaultCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := DefaultCatalog()
	if err != nil {
		t.Fatalf("DefaultCatalog: %v", err)
	}
	return c
}

func TestDefaultCatalogCoversMinors(t *testing.T) {
	c := defaultCatalog(t)
	for _, minor := range []string{"1.28", "1.29", "1.30", "1.31"} {
		t.Run(minor, func(t *testing.T) {
			r := c.Release(minor)
			if r == nil {
				t.Fatalf("Release(%q) = nil", minor)
			}
			if diff := cmp.Diff([]string{"base", "istiod", "cni", "ztunnel", "gateway"}, r.Charts.Names); diff != "" {
				t.Errorf("chart names (-want +got):\n%s", diff)
			}
			if r.Kiali.Recommended == "" || r.GatewayAPI.Tested == "" {
				t.Errorf("got kiali %q gateway-api %q, want both paired", r.Kiali.Recommended, r.GatewayAPI.Tested)
			}
		})
	}
	if got := c.Release("1.31").Charts.Repos[0].OCI; got != "oci://ghcr.io/istio/release/charts" {
		t.Errorf("1.31 OCI repo: got %q, want oci://ghcr.io/istio/release/charts", got)
	}
	if got := c.Release("1.30").Charts.Hub; got != "registry.istio.io/release" {
		t.Errorf("1.30 chart hub: got %q, want registry.istio.io/release", got)
	}
}

// TestCatalogKialiDigestsMatchRepoIndex checks every pinned kiali-server
// digest against the real Kiali Helm repository index in testdata, and the
// 2.26.0 pin against the real archive.
func TestCatalogKialiDigestsMatchRepoIndex(t *testing.T) {
	c := defaultCatalog(t)
	raw, err := os.ReadFile("../testdata/helm-repo-index/kiali-helm-charts-index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Entries map[string][]struct{ Version, Digest string } `json:"entries"`
	}
	if err := yaml.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	index := map[string]string{}
	for _, e := range idx.Entries["kiali-server"] {
		index[e.Version] = "sha256:" + e.Digest
	}
	for _, ch := range c.Kiali.Charts {
		if got := index[ch.Version]; got != ch.Digest {
			t.Errorf("kiali-server %s: catalog %s, repo index %s", ch.Version, ch.Digest, got)
		}
	}
	tgz, err := os.ReadFile("../testdata/charts/kiali-server-2.26.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tgz)
	res, err := c.KialiFor("1.30.3", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:" + hex.EncodeToString(sum[:]); res.ChartDigest != want {
		t.Errorf("kiali-server 2.26.0 digest: got %s, want %s", res.ChartDigest, want)
	}
}

func TestLoadCatalogStrict(t *testing.T) {
	bad := strings.Replace(string(embeddedCatalog), `  - minor: "1.27"`, `  - minr: "1.27"`, 1)
	bad += "kiali: {}\n"
	_, err := LoadCatalog(strings.NewReader(bad))
	if err == nil {
		t.Fatal("LoadCatalog: got nil error for a duplicated and a misspelled field")
	}
	for _, w := range []string{"catalog: 2 problems", "istio[1].minr: unknown field", "kiali: duplicate field"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error:\n%v\nwant it to contain %q", err, w)
		}
	}
}

func TestCatalogValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Catalog)
		want   string
	}{
		{"latest not a patch", func(c *Catalog) { c.Istio[0].Latest = "1.26.99" }, `istio[0].latest: "1.26.99" is not among the patches`},
		{"patch of another minor", func(c *Catalog) { c.Istio[0].Patches[0] = "1.25.0" }, `istio[0].patches[0]: "1.25.0" is not a 1.26 patch version`},
		{"recommended outside range", func(c *Catalog) { c.Istio[0].Kiali.Recommended = "2.0.0" }, "istio[0].kiali.recommended: 2.0.0 is outside its range"},
		{"unknown key", func(c *Catalog) { c.Istio[0].Signing[0].Key = "nobody" }, `istio[0].signing[0].key: "nobody" is not in signingKeys`},
		{"unknown image", func(c *Catalog) { c.Istio[0].Images = append(c.Istio[0].Images, "operator") }, `"operator" is not in istioImages`},
		{"bad chart digest", func(c *Catalog) { c.Kiali.Charts[0].Digest = "a5570a18" }, `kiali.charts[0].digest: "a5570a18"`},
		{"tested outside bounds", func(c *Catalog) { c.Istio[2].GatewayAPI.Tested = "v1.5.1" }, "istio[2].gatewayAPI.tested: v1.5.1 is outside [v1.4.0, v1.4.1]"},
		{"bad pem", func(c *Catalog) { c.SigningKeys[0].PublicKey = "hello" }, `signingKeys[0].publicKey: not a PEM`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultCatalog(t)
			tt.mutate(c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestResolveIstio(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		in        string
		want      string
		known     bool
		wantNotes int
		wantErr   string
	}{
		{in: "1.30", want: "1.30.3", known: true},
		{in: "1.30.3", want: "1.30.3", known: true},
		{in: "v1.29", want: "1.29.6", known: true, wantNotes: 1},
		{in: "1.29.9", want: "1.29.9", known: true, wantNotes: 1},
		{in: "1.28", want: "1.28.10", known: true, wantNotes: 1},
		{in: "1.31", want: "1.31.0", known: true},
		{in: "1.30.9", want: "1.30.9", wantNotes: 1},
		{in: "1.31.0-rc.0", want: "1.31.0-rc.0", wantNotes: 1},
		{in: "1.99", wantErr: "istio 1.99: version not in catalog; known minors: 1.26, 1.27, 1.28, 1.29, 1.30, 1.31"},
		{in: "latest", wantErr: `istio "latest": want a minor`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := c.ResolveIstio(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveIstio: got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveIstio: %v", err)
			}
			if got.Version != tt.want || got.Known != tt.known || len(got.Notes) != tt.wantNotes {
				t.Errorf("got %s known=%v notes=%q, want %s known=%v with %d notes", got.Version, got.Known, got.Notes, tt.want, tt.known, tt.wantNotes)
			}
		})
	}
}

func TestKialiAndGatewayAPIFor(t *testing.T) {
	c := defaultCatalog(t)
	k, err := c.KialiFor("1.30.3", "")
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != "2.26.0" || k.Image != "quay.io/kiali/kiali:v2.26.0" || k.ChartRepo != "https://kiali.org/helm-charts" || k.Chart != "kiali-server" {
		t.Errorf("KialiFor(1.30.3): got %+v", k)
	}
	for in, want := range map[string]string{"2.28": "2.28.0", "v2.21.0": "2.21.0", "2.31.0": "2.31.0"} {
		if k, err := c.KialiFor("1.30.3", in); err != nil || k.Version != want {
			t.Errorf("KialiFor(1.30.3, %q): got %q, %v; want %q", in, k.Version, err, want)
		}
	}
	if _, err := c.KialiFor("", ""); err == nil {
		t.Error("KialiFor without istio or version: got nil error")
	}
	g, err := c.GatewayAPIFor("1.30.3", "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := GatewayAPIResolution{Version: "v1.5.1", Channel: "standard", Name: "standard-install.yaml",
		URL: "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml"}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("GatewayAPIFor(1.30.3) (-want +got):\n%s", diff)
	}
	g, err = c.GatewayAPIFor("1.29.6", "v1.4", ChannelExperimental)
	if err != nil || g.Version != "v1.4.1" || !strings.HasSuffix(g.URL, "/v1.4.1/experimental-install.yaml") {
		t.Errorf("GatewayAPIFor(1.29.6, v1.4, experimental): got %+v, %v", g, err)
	}
}

func TestCheckCompatibility(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		name string
		set  ResolvedSet
		want []string
	}{
		{"recommended set", ResolvedSet{Istio: "1.30.3", Kiali: "2.26.0", GatewayAPI: "v1.5.1"}, nil},
		{"kiali too old", ResolvedSet{Istio: "1.30.3", Kiali: "2.12.0", GatewayAPI: "v1.5.1"},
			[]string{"kiali 2.12.0 is outside the range >=2.22.0 <2.30.0 supported by istio 1.30.3"}},
		{"gateway api too old for 1.30", ResolvedSet{Istio: "1.30.3", GatewayAPI: "v1.4.1"},
			[]string{"gateway-api v1.4.1 is below the minimum v1.5.0 for istio 1.30.3: Istio 1.30 reads TLSRoute and ReferenceGrant v1 from the standard channel"}},
		{"gateway api too new for 1.29", ResolvedSet{Istio: "1.29.6", GatewayAPI: "v1.5.1", Kiali: "2.21.0"},
			[]string{"gateway-api v1.5.1 is above the maximum v1.4.1 for istio 1.29.6: istiod ignores TLSRoute CRDs newer than v1.4.1"}},
		{"1.31 needs v1.6", ResolvedSet{Istio: "1.31.0", GatewayAPI: "v1.5.1"},
			[]string{"gateway-api v1.5.1 is below the minimum v1.6.0 for istio 1.31.0: Istio 1.31 needs TCPRoute v1 from Gateway API v1.6.0"}},
		{"unknown minor", ResolvedSet{Istio: "1.20.1"}, []string{"istio 1.20.1 is not a minor the catalog knows (1.26, 1.27, 1.28, 1.29, 1.30, 1.31)"}},
		{"no istio", ResolvedSet{Kiali: "2.0.0"}, nil},
		{"cluster in range", ResolvedSet{Istio: "1.30.3", ClusterKubernetes: "1.34.2"}, nil},
		{"cluster too old", ResolvedSet{Istio: "1.30.3", ClusterKubernetes: "1.29"},
			[]string{"kubernetes 1.29 is outside the range 1.32 to 1.36 supported by istio 1.30.3"}},
		{"cluster too new", ResolvedSet{Istio: "1.28.10", ClusterKubernetes: "1.35"},
			[]string{"kubernetes 1.35 is outside the range 1.30 to 1.34 supported by istio 1.28.10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range c.CheckCompatibility(tt.set) {
				got = append(got, v.Message)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckCompatibility (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpectedImages(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		name    string
		version string
		opts    ImageOptions
		want    []string
		wantErr string
	}{
		{name: "sidecar", version: "1.30.3", want: []string{"docker.io/istio/pilot:1.30.3", "docker.io/istio/proxyv2:1.30.3"}},
		{name: "sidecar with cni", version: "1.30.3", opts: ImageOptions{CNI: true},
			want: []string{"docker.io/istio/install-cni:1.30.3", "docker.io/istio/pilot:1.30.3", "docker.io/istio/proxyv2:1.30.3"}},
		{name: "ambient", version: "1.30.3", opts: ImageOptions{Profile: ProfileAmbient}, want: []string{
			"docker.io/istio/install-cni:1.30.3-distroless", "docker.io/istio/pilot:1.30.3-distroless",
			"docker.io/istio/proxyv2:1.30.3-distroless", "docker.io/istio/ztunnel:1.30.3-distroless"}},
		{name: "ambient both variants with agentgateway", version: "1.29.6",
			opts: ImageOptions{Profile: ProfileAmbient, Variants: []string{VariantDefault, VariantDistroless}, Agentgateway: true},
			want: []string{
				"docker.io/istio/agentgateway:1.29.6", "docker.io/istio/agentgateway:1.29.6-distroless",
				"docker.io/istio/install-cni:1.29.6", "docker.io/istio/install-cni:1.29.6-distroless",
				"docker.io/istio/pilot:1.29.6", "docker.io/istio/pilot:1.29.6-distroless",
				"docker.io/istio/proxyv2:1.29.6", "docker.io/istio/proxyv2:1.29.6-distroless",
				"docker.io/istio/ztunnel:1.29.6", "docker.io/istio/ztunnel:1.29.6-distroless"}},
		{name: "no agentgateway before 1.29", version: "1.28.10", opts: ImageOptions{Agentgateway: true},
			wantErr: "istio 1.28.10: no agentgateway image before Istio 1.29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := c.ExpectedImages(tt.version, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range imgs {
				got = append(got, img.Reference)
				if img.SignedBy != "istio-release" {
					t.Errorf("%s: SignedBy %q, want istio-release", img.Reference, img.SignedBy)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ExpectedImages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignedBy(t *testing.T) {
	c := defaultCatalog(t)
	for v, want := range map[string]string{
		"1.30.3": "istio-release", "1.31.0": "istio-release", "1.31.0-rc.0": "istio-release",
		"1.31.1": "istio-release-v2", "1.31.4": "istio-release-v2",
	} {
		if got := c.Release(minorOf(v)).SignedBy(v); got != want {
			t.Errorf("SignedBy(%s): got %q, want %q", v, got, want)
		}
	}
}

func TestSetPublicKey(t *testing.T) {
	c := defaultCatalog(t)
	if k := c.SigningKey("istio-release"); k == nil || k.PublicKey != "" || k.URL != "https://istio.io/misc/istio-key.pub" {
		t.Fatalf("istio-release key: got %+v, want the URL and no PEM", k)
	}
	pemKey := "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
	if err := c.SetPublicKey("istio-release", []byte(pemKey)); err != nil {
		t.Fatalf("SetPublicKey: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after SetPublicKey: %v", err)
	}
	if err := c.SetPublicKey("nobody", []byte(pemKey)); err == nil || !strings.Contains(err.Error(), "known keys: istio-release, istio-release-v2") {
		t.Errorf("SetPublicKey(nobody): got %v", err)
	}
	if err := c.SetPublicKey("istio-release", []byte("not pem")); err == nil {
		t.Error("SetPublicKey(not pem): got nil error")
	}
}

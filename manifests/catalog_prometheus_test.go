package manifests

import (
	"strings"
	"testing"
)

// TestPrometheusFor: the embedded catalog names Istio's
// samples/addons/prometheus.yaml of the exact version, with the sha256 it
// pins for tagged patches and a note for the others.
func TestPrometheusFor(t *testing.T) {
	c, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		istio, digest, note, err string
	}{
		{istio: "1.30.3", digest: "sha256:429abcb6cb74b6045d8787c66add166aa6ca77889835107bdea8dfb46dd1eca8"},
		{istio: "1.29.6", digest: "sha256:6afac24f3063830157bea0ed2f997ab118bab2013d30c67f7dc63b3ec05b9894"},
		{istio: "1.28.0", digest: "sha256:f8578985bed398c599f9565dfd9c9b9be90160680b9cce7eab412be4544e6d11"},
		{istio: "1.30.4", note: "no sha256 of Istio 1.30.4"},
		{istio: "1.30", err: "not an exact version"},
	} {
		t.Run(tc.istio, func(t *testing.T) {
			r, err := c.PrometheusFor(tc.istio)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := "https://raw.githubusercontent.com/istio/istio/" + tc.istio + "/samples/addons/prometheus.yaml"
			if r.URL != want || r.Name != "prometheus.yaml" || r.Digest != tc.digest {
				t.Errorf("got %s %s %s, want %s prometheus.yaml %s", r.URL, r.Name, r.Digest, want, tc.digest)
			}
			if got := r.InClusterURL("istio-system"); got != "http://prometheus.istio-system:9090" {
				t.Errorf("in-cluster URL %s", got)
			}
			if notes := strings.Join(r.Notes, "\n"); tc.note == "" && notes != "" || !strings.Contains(notes, tc.note) {
				t.Errorf("notes %q, want %q", notes, tc.note)
			}
		})
	}
	c.Prometheus = nil
	if _, err := c.PrometheusFor("1.30.3"); err == nil || !strings.Contains(err.Error(), "kiali.prometheusURL") {
		t.Errorf("no section: err = %v, want one naming kiali.prometheusURL", err)
	}
}

// TestValidatePrometheus: a broken prometheus section fails validation at
// the field that is wrong.
func TestValidatePrometheus(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*PrometheusCatalog)
		want string
	}{
		{"no {istio}", func(p *PrometheusCatalog) { p.URL = "https://example.com/prometheus.yaml" }, "prometheus.url"},
		{"plain http", func(p *PrometheusCatalog) { p.URL = "http://example.com/{istio}/prometheus.yaml" }, "prometheus.url"},
		{"no service", func(p *PrometheusCatalog) { p.Service = "" }, "prometheus.service"},
		{"port", func(p *PrometheusCatalog) { p.Port = 0 }, "prometheus.port"},
		{"duplicate version", func(p *PrometheusCatalog) { p.Files = append(p.Files, p.Files[0]) }, "is listed twice"},
		{"bad digest", func(p *PrometheusCatalog) { p.Files[0].Digest = "sha256:00" }, "prometheus.files[0].digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DefaultCatalog()
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(c.Prometheus)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSpecPrometheusURL: kiali.prometheusURL must be an http(s) URL and
// needs Kiali.
func TestSpecPrometheusURL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kiali KialiSpec
		want  string
	}{
		{"existing prometheus", KialiSpec{Enabled: true, PrometheusURL: " http://prometheus.monitoring:9090 "}, ""},
		{"https", KialiSpec{Enabled: true, PrometheusURL: "https://prom.example"}, ""},
		{"no scheme", KialiSpec{Enabled: true, PrometheusURL: "prometheus:9090"}, "kiali.prometheusURL"},
		{"no host", KialiSpec{Enabled: true, PrometheusURL: "http://"}, "not an http(s) URL"},
		{"without kiali", KialiSpec{PrometheusURL: "http://prometheus.monitoring:9090"}, "kiali is not enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Istio: IstioSpec{Version: "1.30"}, Kiali: tc.kiali}
			s.Normalize()
			err := s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(tc.kiali.PrometheusURL) != s.Kiali.PrometheusURL {
					t.Errorf("normalized URL %q", s.Kiali.PrometheusURL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

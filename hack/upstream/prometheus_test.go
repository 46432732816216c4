package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
)

// TestPrometheusAddons: each Istio version gets the real
// samples/addons/prometheus.yaml of its tag, else the newest one of its
// minor, else the newest of all, and the images that file names.
func TestPrometheusAddons(t *testing.T) {
	td, err := findTestdata()
	if err != nil {
		t.Fatal(err)
	}
	const (
		sum1303 = "429abcb6cb74b6045d8787c66add166aa6ca77889835107bdea8dfb46dd1eca8"
		sum1296 = "6afac24f3063830157bea0ed2f997ab118bab2013d30c67f7dc63b3ec05b9894"
		sum1281 = "e0d4363460228706e42bd50649cf431eadf33e5137da000aa30957bbc55764bb"
	)
	img1303 := []string{"ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0", "docker.io/prom/prometheus:v3.10.0"}
	for _, tc := range []struct {
		version, sha256 string
		images          []string
	}{
		{"1.30.3", sum1303, img1303},
		{"1.30.4", sum1303, img1303},
		{"1.31.0", sum1303, img1303},
		{"1.29.2", sum1296, []string{"ghcr.io/prometheus-operator/prometheus-config-reloader:v0.87.1", "docker.io/prom/prometheus:v3.8.1"}},
		{"1.28.10", sum1281, []string{"ghcr.io/prometheus-operator/prometheus-config-reloader:v0.85.0", "docker.io/prom/prometheus:v3.5.0"}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			as, err := prometheusAddons(td, []string{tc.version})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(as[0].data)
			if got := hex.EncodeToString(sum[:]); got != tc.sha256 {
				t.Errorf("sha256 %s, want %s", got, tc.sha256)
			}
			if !slices.Equal(as[0].images, tc.images) {
				t.Errorf("images %v, want %v", as[0].images, tc.images)
			}
			if want := "/istio/istio/" + tc.version + "/samples/addons/prometheus.yaml"; as[0].path() != want {
				t.Errorf("path %s, want %s", as[0].path(), want)
			}
		})
	}
	if _, err := prometheusAddons(t.TempDir(), []string{"1.30.3"}); err == nil {
		t.Error("a testdata directory without addons: no error")
	}
}

// TestPlanPrometheusImages: the plan publishes each addon image once,
// under its real repository, unsigned.
func TestPlanPrometheusImages(t *testing.T) {
	opts, err := Options{IstioVersions: []string{"1.30.3", "1.30.4"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan(opts, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range p.images {
		for _, r := range ip.repos {
			if r == "docker.io/prom/prometheus" || r == "ghcr.io/prometheus-operator/prometheus-config-reloader" {
				got = append(got, r+":"+ip.tags[0])
				if ip.signed || len(ip.platforms) != len(istioPlatforms) {
					t.Errorf("%s: signed %v, %d platforms; want unsigned, %d", r, ip.signed, len(ip.platforms), len(istioPlatforms))
				}
			}
		}
	}
	want := []string{"docker.io/prom/prometheus:v3.10.0", "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("prometheus images %v, want %v", got, want)
	}
}

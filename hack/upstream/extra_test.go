package upstream

import (
	"net/http"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"sigs.k8s.io/yaml"
)

// TestUserContent checks the user content the fixture serves: the webapp
// chart in its HTTP repository (index digests match the packages) and as
// OCI charts (the chart layer is the same package), the images the chart
// renders, and the user file.
func TestUserContent(t *testing.T) {
	u := fixture.u
	var idx repoIndex
	if err := yaml.Unmarshal(get(t, u, "/downloads.example.com/charts/index.yaml", http.StatusOK), &idx); err != nil {
		t.Fatal(err)
	}
	entries := idx.Entries["webapp"]
	if len(entries) != len(userChartVersions) {
		t.Fatalf("index lists %d webapp versions, want %d", len(entries), len(userChartVersions))
	}
	for _, e := range entries {
		t.Run(e.Version, func(t *testing.T) {
			if len(e.URLs) != 1 || !strings.HasPrefix(e.URLs[0], UserChartRepo+"/") {
				t.Fatalf("urls %v, want one below %s", e.URLs, UserChartRepo)
			}
			tgz := get(t, u, userPath(e.URLs[0]), http.StatusOK)
			if sha256hex(tgz) != e.Digest {
				t.Errorf("index digest %s, package sha256 %s", e.Digest, sha256hex(tgz))
			}
			files := untar(t, tgz)
			if !strings.Contains(string(files["webapp/Chart.yaml"]), "version: "+e.Version+"\n") {
				t.Errorf("Chart.yaml:\n%s\nwant version %s", files["webapp/Chart.yaml"], e.Version)
			}
			var oci *ChartInfo
			for _, c := range u.Charts() {
				if c.OCIReference == UserOCICharts+"/webapp:"+e.Version {
					oci = &c
				}
			}
			if oci == nil {
				t.Fatalf("no OCI chart %s/webapp:%s", UserOCICharts, e.Version)
			}
			var m ocispec.Manifest
			if desc := fetchJSON(t, repository(t, u, UserOCICharts+"/webapp"), e.Version, &m); desc.Digest != oci.OCIDigest {
				t.Errorf("OCI manifest %s, Charts() says %s", desc.Digest, oci.OCIDigest)
			}
			if len(m.Layers) != 1 || m.Layers[0].MediaType != helmChartMediaType || m.Layers[0].Digest.Encoded() != e.Digest {
				t.Errorf("OCI layers %v, want the one package %s", m.Layers, e.Digest)
			}
			if _, ok := u.Image(UserChartImage(e.Version)); !ok {
				t.Errorf("image %s the chart renders is not published", UserChartImage(e.Version))
			}
		})
	}
	for _, ref := range []string{UserExporterImage, UserWorkerImage} {
		if _, ok := u.Image(ref); !ok {
			t.Errorf("image %s is not published", ref)
		}
	}
	if b := get(t, u, "/downloads.example.com/files/mesh-dashboard.json", http.StatusOK); !strings.Contains(string(b), `"panels"`) {
		t.Errorf("user file: %q", b)
	}
}

package sbom

import "testing"

func TestPURL(t *testing.T) {
	tests := []struct {
		typ, name, version string
		q                  map[string]string
		want               string
	}{
		{"oci", "pilot", "sha256:ab", map[string]string{"tag": "1.30.3", "repository_url": "docker.io/istio/pilot", "arch": ""},
			"pkg:oci/pilot@sha256%3Aab?repository_url=docker.io/istio/pilot&tag=1.30.3"},
		{"generic", "standard-install.yaml", "", map[string]string{"download_url": "https://x.io/a b?c=d&e", "checksum": "sha256:ab"},
			"pkg:generic/standard-install.yaml?checksum=sha256:ab&download_url=https://x.io/a%20b%3Fc%3Dd%26e"},
		{"generic", "chart", "1.0.0+build.1", nil, "pkg:generic/chart@1.0.0%2Bbuild.1"},
		{"oci", "a/b", "", nil, "pkg:oci/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := purl(tt.typ, tt.name, tt.version, tt.q); got != tt.want {
				t.Errorf("got %s", got)
			}
		})
	}
}

package manifests

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIstioctlAssets: each platform maps to the archive name Istio
// publishes (downloadIstioCtl.sh: linux by arch, osx, osx-arm64); a
// platform without one is refused with the list of those that have one.
func TestIstioctlAssets(t *testing.T) {
	const rel = "https://github.com/istio/istio/releases/download/1.30.3/"
	tests := []struct {
		platforms []string
		want      []string // names
		wantErr   string
	}{
		{[]string{"linux/amd64"}, []string{"istioctl-1.30.3-linux-amd64.tar.gz"}, ""},
		{[]string{"linux/arm64", "linux/arm/v7"}, []string{"istioctl-1.30.3-linux-arm64.tar.gz", "istioctl-1.30.3-linux-armv7.tar.gz"}, ""},
		{[]string{"darwin/amd64", "darwin/arm64"}, []string{"istioctl-1.30.3-osx.tar.gz", "istioctl-1.30.3-osx-arm64.tar.gz"}, ""},
		{nil, nil, ""},
		{[]string{"linux/s390x"}, nil, "no istioctl archive for linux/s390x; it does for linux/amd64, linux/arm64, linux/arm/v7, darwin/amd64, darwin/arm64"},
		{[]string{"windows/amd64"}, nil, "no istioctl archive for windows/amd64"},
	}
	c := defaultCatalog(t)
	for _, tt := range tests {
		t.Run(strings.Join(tt.platforms, ","), func(t *testing.T) {
			got, err := c.IstioctlAssets("1.30.3", tt.platforms)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, a := range got {
				names = append(names, a.Name)
				if a.URL != rel+a.Name || a.Platform != tt.platforms[i] || a.Executable != "istioctl" {
					t.Errorf("asset %d: %+v", i, a)
				}
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIstioctlCatalogValidation: a broken istioctl section is refused
// naming the field; a catalog without one loads and says so when asked.
func TestIstioctlCatalogValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(ic *IstioctlCatalog)
		want string
	}{
		{"http URL", func(ic *IstioctlCatalog) { ic.AssetURL = strings.Replace(ic.AssetURL, "https", "http", 1) }, "istioctl.assetURL"},
		{"no suffix", func(ic *IstioctlCatalog) { ic.AssetURL = strings.Replace(ic.AssetURL, "{suffix}", "linux", 1) }, "istioctl.assetURL"},
		{"absolute executable", func(ic *IstioctlCatalog) { ic.Executable = "/bin/istioctl" }, "istioctl.executable"},
		{"bad platform", func(ic *IstioctlCatalog) { ic.Platforms[0].Platform = "linux" }, "istioctl.platforms[0].platform"},
		{"duplicate platform", func(ic *IstioctlCatalog) { ic.Platforms[1].Platform = ic.Platforms[0].Platform }, "istioctl.platforms[1].platform"},
		{"empty suffix", func(ic *IstioctlCatalog) { ic.Platforms[2].Suffix = "" }, "istioctl.platforms[2].suffix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultCatalog(t)
			tt.edit(c.Istioctl)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
	c := defaultCatalog(t)
	c.Istioctl = nil
	if err := c.Validate(); err != nil {
		t.Fatalf("a catalog without istioctl: %v", err)
	}
	if _, err := c.IstioctlAssets("1.30.3", []string{"linux/amd64"}); err == nil || !strings.Contains(err.Error(), "no istioctl section") {
		t.Fatalf("got %v, want the missing section named", err)
	}
}

// TestSpecIstioctl: istioctl platforms are validated and need Istio.
func TestSpecIstioctl(t *testing.T) {
	tests := []struct {
		name     string
		version  string
		istioctl []string
		want     string
	}{
		{"ok", "1.30", []string{"linux/amd64", "darwin/arm64"}, ""},
		{"bad platform", "1.30", []string{"amd64"}, "istio.istioctl[0]"},
		{"no istio", IstioNone, []string{"linux/amd64"}, "istio.istioctl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Istio: IstioSpec{Version: tt.version, Istioctl: tt.istioctl}, ExtraImages: []string{"docker.io/library/app:1"}}
			s.Normalize()
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

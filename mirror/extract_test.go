package mirror

import (
	"errors"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
)

// TestSelectFile picks a file artifact by name or component and platform,
// and names what the bundle carries when it cannot.
func TestSelectFile(t *testing.T) {
	file := func(name, component, platform string) bundle.Artifact {
		a := bundle.Artifact{Kind: bundle.KindFile, Name: name, Repository: "files/" + component, Digest: "sha256:" + name}
		if platform != "" {
			a.Platforms = []bundle.Platform{{Platform: platform, Digest: a.Digest}}
		}
		return a
	}
	arts := []bundle.Artifact{
		{Kind: bundle.KindImage, Name: "istioctl", Repository: "istio/istioctl"},
		file("standard-install.yaml", "gateway-api", ""),
		file("istioctl-1.30.3-linux-amd64.tar.gz", "istioctl", "linux/amd64"),
		file("istioctl-1.30.3-linux-armv7.tar.gz", "istioctl", "linux/arm/v7"),
		file("istioctl-1.30.3-osx-arm64.tar.gz", "istioctl", "darwin/arm64"),
	}
	tests := []struct {
		name, file, platform string
		want                 string // the artifact's name
		is                   error
		msg                  string
	}{
		{"component and platform", "istioctl", "linux/amd64", "istioctl-1.30.3-linux-amd64.tar.gz", nil, ""},
		{"platform prefix", "istioctl", "linux/arm", "istioctl-1.30.3-linux-armv7.tar.gz", nil, ""},
		{"darwin", "istioctl", "darwin/arm64", "istioctl-1.30.3-osx-arm64.tar.gz", nil, ""},
		{"by file name", "istioctl-1.30.3-osx-arm64.tar.gz", "", "istioctl-1.30.3-osx-arm64.tar.gz", nil, ""},
		{"file for any platform", "gateway-api", "linux/s390x", "standard-install.yaml", nil, ""},
		{"by name, no platform", "standard-install.yaml", "", "standard-install.yaml", nil, ""},
		{"unknown", "kubectl", "", "", ErrNoFile, `"kubectl"; the bundle carries istioctl-1.30.3-linux-amd64.tar.gz (istioctl, linux/amd64); istioctl-1.30.3-linux-armv7.tar.gz (istioctl, linux/arm/v7); istioctl-1.30.3-osx-arm64.tar.gz (istioctl, darwin/arm64); standard-install.yaml (gateway-api)`},
		{"platform not carried", "istioctl", "linux/s390x", "", ErrFilePlatform, "istioctl is carried for darwin/arm64, linux/amd64, linux/arm/v7, not for linux/s390x"},
		{"several platforms", "istioctl", "", "", ErrFilePlatform, "carried for darwin/arm64, linux/amd64, linux/arm/v7; name one platform"},
		{"images are not files", "istio/istioctl", "", "", ErrNoFile, `"istio/istioctl"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SelectFile(arts, tt.file, tt.platform)
			if tt.is != nil {
				if err == nil || !strings.Contains(err.Error(), tt.msg) || !errors.Is(err, tt.is) {
					t.Fatalf("got %v, want %v containing %q", err, tt.is, tt.msg)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Fatalf("got %q, %v; want %q", got.Name, err, tt.want)
			}
		})
	}
	if _, err := SelectFile(nil, "istioctl", ""); err == nil || !strings.Contains(err.Error(), "carries no files") {
		t.Errorf("empty bundle: got %v, want it to say it carries no files", err)
	}
}

// TestSafeFileName keeps extract inside its directory.
func TestSafeFileName(t *testing.T) {
	for name, want := range map[string]bool{
		"istioctl": true, "standard-install.yaml": true, "": false, ".": false, "..": false,
		"../istioctl": false, "a/b": false, `a\b`: false, "a\x00b": false,
	} {
		if got := safeFileName(name); got != want {
			t.Errorf("safeFileName(%q) = %v, want %v", name, got, want)
		}
	}
}

package mediatype

import (
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		mt              string
		index, manifest bool
	}{
		{ocispec.MediaTypeImageIndex, true, false},
		{DockerManifestList, true, false},
		{ocispec.MediaTypeImageManifest, false, true},
		{DockerManifest, false, true},
		{HelmChart, false, false},
		{ocispec.MediaTypeImageLayerGzip, false, false},
		{"", false, false},
	} {
		t.Run(tc.mt, func(t *testing.T) {
			if got := IsIndex(tc.mt); got != tc.index {
				t.Errorf("IsIndex(%q) = %v, want %v", tc.mt, got, tc.index)
			}
			if got := IsManifest(tc.mt); got != tc.manifest {
				t.Errorf("IsManifest(%q) = %v, want %v", tc.mt, got, tc.manifest)
			}
			if want := tc.index || tc.manifest; strings.Contains(Accept, tc.mt) != want && tc.mt != "" {
				t.Errorf("Accept %q lists %q: %v, want %v", Accept, tc.mt, !want, want)
			}
		})
	}
}

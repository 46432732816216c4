package render

import (
	"sort"

	"github.com/lattice-mesh/meshpack/manifests"
)

// CompareWithCatalog compares discovered images with the references the
// catalog expects (manifests.Catalog.ExpectedImages). missing are expected
// but not discovered, extra discovered but not expected; both sorted and
// normalised. A reference that does not parse is compared as written.
func CompareWithCatalog(discovered []Image, expected []string) (missing, extra []string) {
	norm := func(ref string) string {
		if n, err := manifests.NormalizeImage(ref); err == nil {
			return n
		}
		return ref
	}
	have := map[string]bool{}
	for _, img := range discovered {
		have[norm(img.Reference)] = true
	}
	want := map[string]bool{}
	for _, ref := range expected {
		n := norm(ref)
		want[n] = true
		if !have[n] {
			missing = append(missing, n)
		}
	}
	for ref := range have {
		if !want[ref] {
			extra = append(extra, ref)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

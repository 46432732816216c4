package bundle

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	pilot := Artifact{Kind: KindImage, Name: "pilot", Repository: "istio/pilot", Tag: "1.30.3", Digest: "sha256:p1", Size: 100,
		Platforms: []Platform{{Platform: "linux/amd64", Digest: "sha256:pa", Size: 10}, {Platform: "linux/arm64", Digest: "sha256:pb", Size: 20}}}
	pilot2 := pilot
	pilot2.Digest = "sha256:p2"
	pilot2.Platforms = []Platform{{Platform: "linux/amd64", Digest: "sha256:pa2", Size: 11}, {Platform: "linux/s390x", Digest: "sha256:pc", Size: 30}}
	chart := Artifact{Kind: KindChart, Name: "istiod", Repository: "charts/istiod", Tag: "1.30.3", Digest: "sha256:c", Size: 50}
	file := Artifact{Kind: KindFile, Name: "std.yaml", Source: "https://x/std.yaml", Repository: "files/gateway-api", Digest: "sha256:f", Size: 7}
	file2 := file
	file2.Source = "https://y/std.yaml"
	blobs := func(ds ...string) []Blob {
		var bs []Blob
		for _, d := range ds {
			bs = append(bs, Blob{Digest: "sha256:" + d, Size: int64(len(d)) * 100})
		}
		return bs
	}
	tests := []struct {
		name                     string
		a, b                     *BOM
		added, removed, changed  []string // names
		unchanged                int
		deltaBlobs, fullBlobs    int
		deltaBytes, fullBytes    int64
		removedBlobs, sharedBlob int
	}{
		{name: "both empty", a: &BOM{}, b: &BOM{}},
		{name: "nil", a: nil, b: &BOM{Artifacts: []Artifact{chart}, Blobs: blobs("a", "bb")},
			added: []string{"istiod"}, deltaBlobs: 2, fullBlobs: 2, deltaBytes: 300, fullBytes: 300},
		{name: "same", a: &BOM{Artifacts: []Artifact{pilot, chart}, Blobs: blobs("a", "bb")}, b: &BOM{Artifacts: []Artifact{chart, pilot}, Blobs: blobs("bb", "a")},
			unchanged: 2, fullBlobs: 2, fullBytes: 300, sharedBlob: 2},
		{name: "added removed changed with shared blobs",
			a:     &BOM{Artifacts: []Artifact{pilot, chart}, Blobs: blobs("a", "bb", "ccc")},
			b:     &BOM{Artifacts: []Artifact{pilot2, file}, Blobs: blobs("bb", "ccc", "dddd", "dddd")},
			added: []string{"std.yaml"}, removed: []string{"istiod"}, changed: []string{"pilot"},
			deltaBlobs: 1, deltaBytes: 400, fullBlobs: 3, fullBytes: 900, removedBlobs: 1, sharedBlob: 2},
		{name: "untagged matched by name and source", a: &BOM{Artifacts: []Artifact{file}}, b: &BOM{Artifacts: []Artifact{file2}},
			added: []string{"std.yaml"}, removed: []string{"std.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.a, tt.b)
			for _, c := range []struct {
				what string
				got  []ArtifactDiff
				want []string
			}{{"added", got.Added, tt.added}, {"removed", got.Removed, tt.removed}, {"changed", got.Changed, tt.changed}} {
				var names []string
				for _, d := range c.got {
					names = append(names, d.Name)
				}
				if !reflect.DeepEqual(names, c.want) {
					t.Errorf("%s = %v, want %v", c.what, names, c.want)
				}
				if c.got == nil {
					t.Errorf("%s is nil, want an empty list (JSON [])", c.what)
				}
			}
			if got.Unchanged != tt.unchanged {
				t.Errorf("unchanged = %d, want %d", got.Unchanged, tt.unchanged)
			}
			if got.DeltaBlobs != tt.deltaBlobs || got.DeltaBytes != tt.deltaBytes || got.FullBlobs != tt.fullBlobs || got.FullBytes != tt.fullBytes {
				t.Errorf("delta %d blobs %d B of %d blobs %d B, want %d %d of %d %d",
					got.DeltaBlobs, got.DeltaBytes, got.FullBlobs, got.FullBytes, tt.deltaBlobs, tt.deltaBytes, tt.fullBlobs, tt.fullBytes)
			}
			if got.RemovedBlobs != tt.removedBlobs || got.SharedBlobs != tt.sharedBlob {
				t.Errorf("removed %d shared %d blobs, want %d %d", got.RemovedBlobs, got.SharedBlobs, tt.removedBlobs, tt.sharedBlob)
			}
			if tt.fullBytes > 0 && got.DeltaRatio != float64(tt.deltaBytes)/float64(tt.fullBytes) {
				t.Errorf("ratio %v", got.DeltaRatio)
			}
		})
	}
}

func TestDiffChangedDetail(t *testing.T) {
	a := &BOM{Artifacts: []Artifact{{Kind: KindImage, Name: "pilot", Repository: "istio/pilot", Tag: "1", Digest: "sha256:1", Size: 100,
		Platforms: []Platform{{Platform: "linux/amd64", Digest: "sha256:a", Size: 10}, {Platform: "linux/arm64", Digest: "sha256:b", Size: 20}}}}}
	b := &BOM{Artifacts: []Artifact{{Kind: KindImage, Name: "pilot", Repository: "istio/pilot", Tag: "1", Digest: "sha256:2", Size: 90,
		Platforms: []Platform{{Platform: "linux/amd64", Digest: "sha256:a2", Size: 11}, {Platform: "linux/s390x", Digest: "sha256:c", Size: 30}}}}}
	got := Diff(a, b).Changed
	want := []ArtifactDiff{{Kind: KindImage, Name: "pilot", Repository: "istio/pilot", Tag: "1", OldDigest: "sha256:1", NewDigest: "sha256:2",
		ManifestBytes: 131, PlatformsAdded: []string{"linux/s390x"}, PlatformsRemoved: []string{"linux/arm64"}, PlatformsChanged: []string{"linux/amd64"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changed:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseBOMDiff(t *testing.T) {
	tests := []struct {
		name, data, err string
	}{
		{"ok", `{"schemaVersion":2,"artifacts":[],"blobs":[]}`, ""},
		{"old schema", `{"schemaVersion":1}`, "schemaVersion 1"},
		{"not JSON", `{"schemaVersion":`, "parse BOM"},
		{"too large", `{"schemaVersion":2,"unsigned":"` + strings.Repeat("x", MaxBOMSize) + `"}`, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBOM([]byte(tt.data))
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("err = %v, want %q and ErrInvalidBundle", err, tt.err)
			}
		})
	}
}

package bundle

import (
	"encoding/json"
	"fmt"
	"sort"
)

// MaxBOMSize is the largest BOM JSON ParseBOM accepts: the limit Reader.File
// applies to every metadata file, checked before parsing.
const MaxBOMSize = maxFileSize

// ParseBOM parses a BOM as stored in meshpack/bom.json (what `bundle inspect
// --bom` prints). It refuses data over MaxBOMSize before parsing and
// schema versions other than BOMSchemaVersion, as Reader.BOM does. It proves
// nothing about who wrote the BOM: only Verify with a key does.
func ParseBOM(data []byte) (*BOM, error) {
	if len(data) > MaxBOMSize {
		return nil, fmt.Errorf("%w: BOM of %d bytes exceeds the %d-byte limit for metadata files", ErrInvalidBundle, len(data), MaxBOMSize)
	}
	var bom BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		return nil, fmt.Errorf("%w: parse BOM: %w", ErrInvalidBundle, err)
	}
	if bom.SchemaVersion != BOMSchemaVersion {
		return nil, fmt.Errorf("%w: BOM schemaVersion %d is not supported (want %d); use a matching meshpack", ErrInvalidBundle, bom.SchemaVersion, BOMSchemaVersion)
	}
	return &bom, nil
}

// DiffResult is what changed from bundle A to bundle B according to their
// BOMs. Diff compares what the BOMs claim; it proves nothing (Verify does).
//
// The BOM lists the artifacts and the blobs but not which blobs belong to
// which artifact (the manifest graph is in the blobs themselves), so bytes
// are counted in two ways:
//
//   - per artifact, ManifestBytes: the root manifest or index plus its
//     platform manifests, as the BOM records them. Layers are not
//     attributed to artifacts.
//   - for the whole bundle, at the blob level: DeltaBytes is the size of
//     B's blobs that A does not hold (by digest), which is what an
//     incremental bundle from A to B (`create --since A`) carries; FullBytes
//     is the size of all of B's blobs. For an incremental B (BOM.Base set)
//     B's blobs are only what B itself carries.
type DiffResult struct {
	// Added are the artifacts in B only, Removed those in A only, Changed
	// those in both (same key) whose digest differs; Unchanged counts those
	// with the same digest. Each list is sorted by kind, repository, tag.
	Added     []ArtifactDiff `json:"added"`
	Removed   []ArtifactDiff `json:"removed"`
	Changed   []ArtifactDiff `json:"changed"`
	Unchanged int            `json:"unchanged"`

	// DeltaBlobs and DeltaBytes are B's blobs absent from A.
	DeltaBlobs int   `json:"deltaBlobs"`
	DeltaBytes int64 `json:"deltaBytes"`
	// FullBlobs and FullBytes are all of B's blobs.
	FullBlobs int   `json:"fullBlobs"`
	FullBytes int64 `json:"fullBytes"`
	// DeltaRatio is DeltaBytes / FullBytes (0 when B has no blob bytes).
	DeltaRatio float64 `json:"deltaRatio"`
	// SharedBlobs and SharedBytes are B's blobs that A holds too;
	// RemovedBlobs and RemovedBytes are A's blobs that B does not hold.
	SharedBlobs  int   `json:"sharedBlobs"`
	SharedBytes  int64 `json:"sharedBytes"`
	RemovedBlobs int   `json:"removedBlobs"`
	RemovedBytes int64 `json:"removedBytes"`
}

// ArtifactDiff is one added, removed or changed artifact. Artifacts are
// matched by kind, repository and tag, or, without a tag, by kind,
// repository, name and source.
type ArtifactDiff struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Source     string `json:"source"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	// OldDigest is the digest in A (removed, changed), NewDigest in B
	// (added, changed).
	OldDigest string `json:"oldDigest,omitempty"`
	NewDigest string `json:"newDigest,omitempty"`
	// ManifestBytes is the size of the root manifest plus its platform
	// manifests: in B for added and changed artifacts, in A for removed.
	ManifestBytes int64 `json:"manifestBytes"`
	// For a changed image: platforms only in B, only in A, and in both
	// with a different digest.
	PlatformsAdded   []string `json:"platformsAdded,omitempty"`
	PlatformsRemoved []string `json:"platformsRemoved,omitempty"`
	PlatformsChanged []string `json:"platformsChanged,omitempty"`
}

// Diff compares the BOMs of bundles a and b. It does no I/O; a nil BOM is
// an empty one.
func Diff(a, b *BOM) DiffResult {
	if a == nil {
		a = &BOM{}
	}
	if b == nil {
		b = &BOM{}
	}
	res := DiffResult{Added: []ArtifactDiff{}, Removed: []ArtifactDiff{}, Changed: []ArtifactDiff{}}
	olds := artifactKeys(a.Artifacts)
	seen := map[string]bool{}
	for key, nb := range artifactKeys(b.Artifacts) {
		seen[key] = true
		old, ok := olds[key]
		switch {
		case !ok:
			d := artifactDiff(nb)
			d.NewDigest = nb.Digest
			res.Added = append(res.Added, d)
		case old.Digest == nb.Digest:
			res.Unchanged++
		default:
			d := artifactDiff(nb)
			d.OldDigest, d.NewDigest = old.Digest, nb.Digest
			d.PlatformsAdded, d.PlatformsRemoved, d.PlatformsChanged = diffPlatforms(old.Platforms, nb.Platforms)
			res.Changed = append(res.Changed, d)
		}
	}
	for key, old := range olds {
		if !seen[key] {
			d := artifactDiff(old)
			d.OldDigest = old.Digest
			res.Removed = append(res.Removed, d)
		}
	}
	for _, l := range [][]ArtifactDiff{res.Added, res.Removed, res.Changed} {
		sortArtifactDiffs(l)
	}

	inA := blobSizes(a.Blobs)
	inB := blobSizes(b.Blobs)
	for d, size := range inB {
		res.FullBlobs++
		res.FullBytes += size
		if _, ok := inA[d]; ok {
			res.SharedBlobs++
			res.SharedBytes += size
		} else {
			res.DeltaBlobs++
			res.DeltaBytes += size
		}
	}
	for d, size := range inA {
		if _, ok := inB[d]; !ok {
			res.RemovedBlobs++
			res.RemovedBytes += size
		}
	}
	if res.FullBytes > 0 {
		res.DeltaRatio = float64(res.DeltaBytes) / float64(res.FullBytes)
	}
	return res
}

// artifactKeys indexes artifacts by their match key. A key that occurs more
// than once (a BOM meshpack does not write) gets its occurrence number, so
// the nth duplicate in A matches the nth in B.
func artifactKeys(as []Artifact) map[string]Artifact {
	m := make(map[string]Artifact, len(as))
	for _, a := range as {
		key := a.Kind + "\x00" + a.Repository + "\x00"
		if a.Tag != "" {
			key += "tag\x00" + a.Tag
		} else {
			key += "name\x00" + a.Name + "\x00" + a.Source
		}
		k := key
		for n := 1; ; n++ {
			if _, dup := m[k]; !dup {
				break
			}
			k = fmt.Sprintf("%s\x00#%d", key, n)
		}
		m[k] = a
	}
	return m
}

func artifactDiff(a Artifact) ArtifactDiff {
	n := a.Size
	for _, p := range a.Platforms {
		n += p.Size
	}
	return ArtifactDiff{Kind: a.Kind, Name: a.Name, Source: a.Source, Repository: a.Repository, Tag: a.Tag, ManifestBytes: n}
}

// diffPlatforms returns the platforms only in b, only in a, and in both
// with different digests, each sorted.
func diffPlatforms(a, b []Platform) (added, removed, changed []string) {
	old := map[string]string{}
	for _, p := range a {
		old[p.Platform] = p.Digest
	}
	now := map[string]bool{}
	for _, p := range b {
		now[p.Platform] = true
		d, ok := old[p.Platform]
		switch {
		case !ok:
			added = append(added, p.Platform)
		case d != p.Digest:
			changed = append(changed, p.Platform)
		}
	}
	for _, p := range a {
		if !now[p.Platform] {
			removed = append(removed, p.Platform)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	return added, removed, changed
}

// blobSizes maps each blob digest to its size, each digest once.
func blobSizes(bs []Blob) map[string]int64 {
	m := make(map[string]int64, len(bs))
	for _, b := range bs {
		m[b.Digest] = b.Size
	}
	return m
}

func sortArtifactDiffs(l []ArtifactDiff) {
	sort.Slice(l, func(i, j int) bool {
		x, y := l[i], l[j]
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		if x.Repository != y.Repository {
			return x.Repository < y.Repository
		}
		if x.Tag != y.Tag {
			return x.Tag < y.Tag
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if x.Source != y.Source {
			return x.Source < y.Source
		}
		return x.OldDigest+x.NewDigest < y.OldDigest+y.NewDigest
	})
}

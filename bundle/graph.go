package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/mediatype"
)

// Limits of the graph walk.
const (
	maxManifestSize = 4 << 20
	// maxLabels bounds the artifacts a report names per digest, so that a
	// digest shared by many artifacts costs linear time.
	maxLabels = 8
)

func isManifestType(mt string) bool {
	return mediatype.IsIndex(mt) || mediatype.IsManifest(mt)
}

// manifestNode is the part of an image manifest or index the walk follows.
type manifestNode struct {
	Manifests []ocispec.Descriptor `json:"manifests"`
	Config    *ocispec.Descriptor  `json:"config"`
	Layers    []ocispec.Descriptor `json:"layers"`
}

// artifactLabel names a BOM artifact in reports.
func artifactLabel(a Artifact) string {
	switch {
	case a.Repository != "" && a.Tag != "":
		return a.Repository + ":" + a.Tag
	case a.Repository != "":
		return a.Repository + "@" + a.Digest
	case a.Name != "":
		return a.Name
	}
	return a.Source
}

// rootLabels names each index.json entry: by its BOM artifact, else its ref
// name annotation, else its digest.
func rootLabels(idx ocispec.Index, bom *BOM) []string {
	labels := make([]string, len(idx.Manifests))
	byDigest := artifactsByDigest(bom)
	for i, m := range idx.Manifests {
		labels[i] = m.Digest.String()
		if ref := m.Annotations[ocispec.AnnotationRefName]; ref != "" {
			labels[i] = ref
		}
		if a := byDigest[m.Digest.String()]; a != nil {
			labels[i] = artifactLabel(*a)
		}
	}
	return labels
}

// artifactsByDigest maps each digest to its first BOM artifact.
func artifactsByDigest(bom *BOM) map[string]*Artifact {
	m := make(map[string]*Artifact)
	if bom == nil {
		return m
	}
	for i := range bom.Artifacts {
		if _, dup := m[bom.Artifacts[i].Digest]; !dup {
			m[bom.Artifacts[i].Digest] = &bom.Artifacts[i]
		}
	}
	return m
}

// walkGraph follows every manifest and index reachable from index.json. It
// returns the artifacts referencing each digest and records manifests that
// do not parse and referenced blobs that are missing. Blobs missing from an
// incremental bundle (bom.Base set) are expected in its base and not
// reported. Foreign layers that have URLs may be absent.
func walkGraph(ctx context.Context, r *Reader, bom *BOM, c *Check) map[digest.Digest][]string {
	type item struct {
		desc  ocispec.Descriptor
		label string
	}
	refs := make(map[digest.Digest][]string)
	labels := rootLabels(r.Index(), bom)
	var queue []item
	for i, m := range r.Index().Manifests {
		queue = append(queue, item{m, labels[i]})
	}
	seen := make(map[digest.Digest]bool)
	manifests, missing := 0, 0
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		d := it.desc.Digest
		if len(refs[d]) < maxLabels && !slices.Contains(refs[d], it.label) {
			refs[d] = append(refs[d], it.label)
		}
		if seen[d] {
			continue
		}
		seen[d] = true
		ok, _ := r.Exists(ctx, it.desc)
		if !ok {
			if len(it.desc.URLs) == 0 && (bom == nil || bom.Base == "") {
				c.add(&Problem{Digest: d, Offset: -1, Artifacts: []string{it.label}, Err: fmt.Errorf("referenced %s is not in the bundle: %w", it.desc.MediaType, ErrNotFound)})
			}
			missing++
			continue
		}
		if !isManifestType(it.desc.MediaType) {
			continue
		}
		manifests++
		node, err := readManifest(ctx, r, it.desc)
		if err != nil {
			e, _ := r.Entry(blobName(d))
			c.add(&Problem{Digest: d, Entry: e.Name, Offset: e.Offset, Artifacts: []string{it.label}, Err: err})
			continue
		}
		children := append(slices.Clone(node.Manifests), node.Layers...)
		if node.Config != nil {
			children = append(children, *node.Config)
		}
		for _, ch := range children {
			if !seen[ch.Digest] || len(refs[ch.Digest]) < maxLabels {
				queue = append(queue, item{ch, it.label})
			}
		}
	}
	c.Summary = fmt.Sprintf("%d manifests and indexes, %d referenced digests, %d absent", manifests, len(seen), missing)
	return refs
}

// readManifest fetches and parses a manifest or index (at most 4 MiB).
func readManifest(ctx context.Context, r *Reader, desc ocispec.Descriptor) (manifestNode, error) {
	var node manifestNode
	if desc.Size > maxManifestSize {
		return node, fmt.Errorf("manifest of %d bytes exceeds %d", desc.Size, maxManifestSize)
	}
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		return node, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return node, err
	}
	if err := json.Unmarshal(b, &node); err != nil {
		return node, fmt.Errorf("parse %s: %w", desc.MediaType, err)
	}
	for _, ch := range append(append(slices.Clone(node.Manifests), node.Layers...), configOrEmpty(node.Config)...) {
		if err := ch.Digest.Validate(); err != nil {
			return node, fmt.Errorf("parse %s: child %q: %w", desc.MediaType, ch.Digest, err)
		}
	}
	return node, nil
}

func configOrEmpty(d *ocispec.Descriptor) []ocispec.Descriptor {
	if d == nil {
		return nil
	}
	return []ocispec.Descriptor{*d}
}

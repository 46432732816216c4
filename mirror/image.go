package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// imageGraph is one image as it goes into the bundle: its root (an index or a
// manifest, rewritten when a platform filter dropped entries), the platform
// manifests kept, and the blobs they reference.
type imageGraph struct {
	root           blobData
	upstreamDigest digest.Digest
	manifests      []blobData
	platforms      []platformManifest
	// blobs are configs and layers, deduplicated within the image.
	blobs []ocispec.Descriptor
}

// platformManifest is one kept platform entry.
type platformManifest struct {
	platform string
	desc     ocispec.Descriptor
}

// fetchImageGraph reads an image's manifests from f starting at root and
// applies the platform filter. When entries are dropped the index is
// rewritten with only the kept entries (every other field preserved), so it
// gets a new digest; upstreamDigest keeps the original.
func fetchImageGraph(ctx context.Context, f content.Fetcher, root ocispec.Descriptor, filter []string) (*imageGraph, error) {
	raw, err := remote.FetchManifest(ctx, f, root)
	if err != nil {
		return nil, err
	}
	g := &imageGraph{upstreamDigest: root.Digest}
	switch {
	case mediatype.IsManifest(root.MediaType):
		g.root = blobData{desc: root, data: raw}
		g.platforms = append(g.platforms, platformManifest{platform: "", desc: root})
		if err := g.addManifestBlobs(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", root.Digest, err)
		}
		return g, nil
	case mediatype.IsIndex(root.MediaType):
	default:
		return nil, fmt.Errorf("%s: unsupported media type %q (want an image index or manifest)", root.Digest, root.MediaType)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: parse index: %w", root.Digest, err)
	}
	var kept []int
	for i, m := range idx.Manifests {
		if manifests.PlatformMatches(manifests.FormatPlatform(m.Platform), filter) {
			kept = append(kept, i)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no manifest for platforms %s", root.Digest, strings.Join(filter, ","))
	}
	g.root = blobData{desc: root, data: raw}
	if len(kept) < len(idx.Manifests) {
		rewritten, err := filterIndex(raw, kept)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", root.Digest, err)
		}
		g.root = blobData{desc: ocispec.Descriptor{MediaType: root.MediaType, Digest: digest.FromBytes(rewritten), Size: int64(len(rewritten))}, data: rewritten}
	}
	for _, i := range kept {
		m := idx.Manifests[i]
		if !mediatype.IsManifest(m.MediaType) {
			return nil, fmt.Errorf("%s: nested index %s is not supported", root.Digest, m.Digest)
		}
		mraw, err := remote.FetchManifest(ctx, f, m)
		if err != nil {
			return nil, err
		}
		g.manifests = append(g.manifests, blobData{desc: ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}, data: mraw})
		g.platforms = append(g.platforms, platformManifest{platform: manifests.FormatPlatform(m.Platform), desc: m})
		if err := g.addManifestBlobs(mraw); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Digest, err)
		}
	}
	return g, nil
}

// filterIndex keeps only the manifests at indices kept, preserving every other
// field of the index JSON as upstream wrote it.
func filterIndex(raw []byte, kept []int) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(doc["manifests"], &entries); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(kept))
	for _, i := range kept {
		out = append(out, entries[i])
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	doc["manifests"] = b
	return json.Marshal(doc)
}

func (g *imageGraph) addManifestBlobs(raw []byte) error {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("parse manifest: %w", err)
	}
	seen := map[digest.Digest]bool{}
	for _, b := range g.blobs {
		seen[b.Digest] = true
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if len(d.URLs) > 0 && strings.Contains(d.MediaType, "foreign") {
			continue // non-distributable layer: lives at its URLs, not in registries
		}
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("blob %q: %w", d.Digest, err)
		}
		if !seen[d.Digest] {
			seen[d.Digest] = true
			g.blobs = append(g.blobs, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
		}
	}
	return nil
}

package mirror

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror/client"
)

// target is where Load pushes: a registry host and an optional path prefix.
type target struct {
	host    string
	prefix  string
	flatten bool
}

// parseTarget parses HOST[:PORT][/PREFIX].
func parseTarget(s, mode string) (target, error) {
	var t target
	switch mode {
	case "", PathKeep:
	case PathFlatten:
		t.flatten = true
	default:
		return t, fmt.Errorf("path mode %q: want %s or %s", mode, PathKeep, PathFlatten)
	}
	if strings.Contains(s, "://") {
		return t, fmt.Errorf("registry %q: give HOST[:PORT][/PREFIX] without a scheme (use --plain-http for http)", s)
	}
	host, prefix, _ := strings.Cut(strings.TrimSpace(s), "/")
	prefix = strings.Trim(prefix, "/")
	t.host, t.prefix = host, prefix
	ref := registry.Reference{Registry: host, Repository: prefix}
	if host == "" {
		return t, fmt.Errorf("registry %q: want HOST[:PORT][/PREFIX], e.g. registry.internal:5000/mesh", s)
	}
	if err := ref.ValidateRegistry(); err != nil {
		return t, fmt.Errorf("registry %q: %w", s, err)
	}
	if prefix != "" {
		if err := ref.ValidateRepository(); err != nil {
			return t, fmt.Errorf("registry %q: prefix %q is not a valid repository path (lowercase letters, digits, separators): %w", s, prefix, err)
		}
	}
	return t, nil
}

// String renders HOST[/PREFIX].
func (t target) String() string {
	if t.prefix == "" {
		return t.host
	}
	return t.host + "/" + t.prefix
}

// repo maps a BOM repository ("istio/pilot") to its path below the host.
func (t target) repo(p string) string {
	if t.flatten {
		p = strings.ReplaceAll(p, "/", "-")
	}
	if t.prefix == "" {
		return p
	}
	return t.prefix + "/" + p
}

// loadPlan is what Load pushes: every blob once with the repositories that
// need it, and every artifact with its manifests in push order.
type loadPlan struct {
	blobs      []*blobTask
	artifacts  []*artifactTask
	totalBytes int64
}

// blobTask is one blob digest and the target repositories that need it.
type blobTask struct {
	desc     ocispec.Descriptor
	repos    []string
	label    string // the first artifact that needs it, for errors
	inBundle bool
}

// artifactTask is one BOM artifact and its manifests, children before
// parents, the root last.
type artifactTask struct {
	a         bundle.Artifact
	repo      string
	label     string
	manifests []ocispec.Descriptor
}

// plan walks every artifact's manifests in the bundle and gathers its blobs.
func (l *loader) plan(ctx context.Context, bom *bundle.BOM) (*loadPlan, error) {
	p := &loadPlan{}
	byDigest := map[digest.Digest]*blobTask{}
	for _, a := range bom.Artifacts {
		d, err := digest.Parse(a.Digest)
		if err != nil {
			return nil, fmt.Errorf("artifact %s: digest %q: %w", artifactLabel(a), a.Digest, err)
		}
		if a.Repository == "" {
			return nil, fmt.Errorf("artifact %s: the BOM names no repository for it", artifactLabel(a))
		}
		at := &artifactTask{a: a, repo: l.t.repo(a.Repository), label: artifactLabel(a)}
		if _, err := l.c.RepositoryAt(l.t.host, at.repo, false); err != nil {
			return nil, fmt.Errorf("artifact %s: %w", at.label, err)
		}
		root := ocispec.Descriptor{MediaType: a.MediaType, Digest: d, Size: a.Size}
		var blobs []ocispec.Descriptor
		if err := l.walk(ctx, root, at, &blobs, 0); err != nil {
			return nil, fmt.Errorf("artifact %s: %w", at.label, err)
		}
		for _, b := range blobs {
			bt := byDigest[b.Digest]
			if bt == nil {
				ok, err := l.r.Exists(ctx, b)
				if err != nil {
					return nil, err
				}
				bt = &blobTask{desc: b, label: at.label, inBundle: ok}
				byDigest[b.Digest] = bt
				p.blobs = append(p.blobs, bt)
				if ok {
					p.totalBytes += b.Size
				}
			}
			if !slices.Contains(bt.repos, at.repo) {
				bt.repos = append(bt.repos, at.repo)
			}
		}
		p.artifacts = append(p.artifacts, at)
	}
	// Largest first: the long uploads start early and the small ones fill
	// the gaps at the end, so the registry stays busy until the last byte.
	slices.SortStableFunc(p.blobs, func(a, b *blobTask) int { return cmp.Compare(b.desc.Size, a.desc.Size) })
	return p, nil
}

// walk appends desc's manifests to at (children first) and its configs and
// layers to blobs.
func (l *loader) walk(ctx context.Context, desc ocispec.Descriptor, at *artifactTask, blobs *[]ocispec.Descriptor, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%s: indexes nested too deep", desc.Digest)
	}
	if !isIndex(desc.MediaType) && !isManifest(desc.MediaType) {
		return fmt.Errorf("%s: media type %q is not a manifest or index", desc.Digest, desc.MediaType)
	}
	raw, err := client.FetchManifest(ctx, l.r, desc)
	if err != nil {
		return fmt.Errorf("read manifest from the bundle: %w", err)
	}
	var node struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &node); err != nil {
		return fmt.Errorf("%s: parse %s: %w", desc.Digest, desc.MediaType, err)
	}
	for _, m := range node.Manifests {
		if err := l.walk(ctx, m, at, blobs, depth+1); err != nil {
			return err
		}
	}
	children := node.Layers
	if node.Config != nil {
		children = append([]ocispec.Descriptor{*node.Config}, children...)
	}
	for _, b := range children {
		if err := b.Digest.Validate(); err != nil {
			return fmt.Errorf("%s: blob %q: %w", desc.Digest, b.Digest, err)
		}
		if len(b.URLs) > 0 {
			if ok, _ := l.r.Exists(ctx, b); !ok {
				continue // non-distributable layer: lives at its URLs
			}
		}
		*blobs = append(*blobs, ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
	}
	if !slices.ContainsFunc(at.manifests, func(m ocispec.Descriptor) bool { return m.Digest == desc.Digest }) {
		at.manifests = append(at.manifests, ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size})
	}
	return nil
}

// loaded lists the artifacts with their target references.
func (p *loadPlan) loaded(t target) []LoadedArtifact {
	out := make([]LoadedArtifact, 0, len(p.artifacts))
	for _, at := range p.artifacts {
		a := at.a
		repo := t.host + "/" + at.repo
		ref := repo
		if a.Tag != "" {
			ref += ":" + a.Tag
		}
		out = append(out, LoadedArtifact{
			Kind: a.Kind, Name: a.Name, Source: a.Source, Repository: repo, Tag: a.Tag,
			Digest: a.Digest, Reference: ref + "@" + a.Digest, Platforms: a.Platforms, Subject: a.Subject,
		})
	}
	return out
}

// artifactLabel names a BOM artifact in messages.
func artifactLabel(a bundle.Artifact) string {
	switch {
	case a.Kind == bundle.KindSignature:
		return "signature of " + a.Repository + "@" + a.Subject
	case a.Repository != "" && a.Tag != "":
		return a.Kind + " " + a.Repository + ":" + a.Tag
	case a.Repository != "":
		return a.Kind + " " + a.Repository + "@" + a.Digest
	}
	return a.Kind + " " + a.Name
}

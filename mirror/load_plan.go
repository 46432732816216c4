package mirror

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// maxPlacements caps the blob and manifest placements (one digest in one
// target repository) a plan may hold. A real bundle needs a few thousand;
// a crafted one that asks for millions (many repositories each sharing a
// manifest with thousands of layers) is refused rather than planned.
const maxPlacements = 1 << 20

// maxNesting is how deep indexes may nest below an artifact's root.
const maxNesting = 4

// ErrPlanTooLarge means the bundle asks for more placements than
// maxPlacements.
var ErrPlanTooLarge = errors.New("the bundle needs too many blob and manifest placements")

// loadPlan is what Load pushes: every blob once with the repositories that
// need it, and every artifact with the manifests it pushes.
type loadPlan struct {
	blobs      []*blobTask
	artifacts  []*artifactTask
	totalBytes int64 // blobs the bundle holds, each once
}

// blobTask is one blob digest and the target repositories that need it.
type blobTask struct {
	desc     ocispec.Descriptor
	repos    []string
	label    string // the first artifact that needs it, for errors
	inBundle bool
}

// artifactTask is one BOM artifact: the manifests it pushes (children
// before parents, each digest once per repository across the whole plan)
// and those of its repository another artifact pushes first.
type artifactTask struct {
	a     bundle.Artifact
	repo  string
	label string
	root  ocispec.Descriptor
	own   []*placement
	waits []*placement
	// dup marks an artifact the BOM lists again (same repository, tag and
	// digest): it adds nothing to push.
	dup bool
	// tagExists: the registry's tag already points at root; conflict: it
	// points elsewhere; skipTag: and stays there (TagSkip). Set by
	// checkTags.
	tagExists, conflict, skipTag bool
}

// placement is one manifest or index in one target repository. The first
// artifact that needs it pushes it and closes done; later ones wait.
type placement struct {
	repo   string
	desc   ocispec.Descriptor
	node   *manifestNode
	owner  *artifactTask
	waiter *artifactTask // the last artifact that recorded a wait, to list each once
	done   chan struct{}
	err    error
}

// finish records the outcome of pushing p, once.
func (p *placement) finish(err error) {
	select {
	case <-p.done:
	default:
		p.err = err
		close(p.done)
	}
}

// manifestNode is a manifest or index as read once from the bundle: its
// child manifests and its blobs, each digest once.
type manifestNode struct {
	children []ocispec.Descriptor
	blobs    []ocispec.Descriptor
}

type placeKey struct {
	repo string
	d    digest.Digest
}

// planner builds a loadPlan in time linear in the bundle's manifests and
// references: each manifest is read and parsed once, each manifest and blob
// is placed once per repository.
type planner struct {
	l          *loader
	p          *loadPlan
	nodes      map[digest.Digest]*manifestNode
	placed     map[placeKey]*placement
	blobPlaced map[placeKey]bool
	blobs      map[digest.Digest]*blobTask
	arts       map[artKey]bool
	n          int
}

type artKey struct {
	repo, tag string
	d         digest.Digest
}

// plan walks every artifact's manifests in the bundle and gathers its blobs.
func (l *loader) plan(ctx context.Context, bom *bundle.BOM) (*loadPlan, error) {
	pl := &planner{
		l: l, p: &loadPlan{},
		nodes:      map[digest.Digest]*manifestNode{},
		placed:     map[placeKey]*placement{},
		blobPlaced: map[placeKey]bool{},
		blobs:      map[digest.Digest]*blobTask{},
		arts:       map[artKey]bool{},
	}
	for _, a := range bom.Artifacts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := digest.Parse(a.Digest)
		if err != nil {
			return nil, fmt.Errorf("artifact %s: digest %q: %w", artifactLabel(a), a.Digest, err)
		}
		if a.Repository == "" {
			return nil, fmt.Errorf("artifact %s: the BOM names no repository for it", artifactLabel(a))
		}
		at := &artifactTask{a: a, repo: l.t.repo(a.Repository), label: artifactLabel(a)}
		at.root = ocispec.Descriptor{MediaType: a.MediaType, Digest: d, Size: a.Size}
		key := artKey{at.repo, a.Tag, d}
		if at.dup = pl.arts[key]; !at.dup {
			pl.arts[key] = true
			if err := pl.visit(ctx, at, at.root, 0); err != nil {
				return nil, fmt.Errorf("artifact %s: %w", at.label, err)
			}
		}
		pl.p.artifacts = append(pl.p.artifacts, at)
	}
	// Largest first: the long uploads start early and the small ones fill
	// the gaps at the end, so the registry stays busy until the last byte.
	slices.SortStableFunc(pl.p.blobs, func(a, b *blobTask) int { return cmp.Compare(b.desc.Size, a.desc.Size) })
	return pl.p, nil
}

// visit places desc and everything below it in at's repository, unless an
// earlier visit did.
func (pl *planner) visit(ctx context.Context, at *artifactTask, desc ocispec.Descriptor, depth int) error {
	key := placeKey{at.repo, desc.Digest}
	if p := pl.placed[key]; p != nil {
		if p.owner != at && p.waiter != at {
			p.waiter = at
			at.waits = append(at.waits, p)
		}
		return nil
	}
	if depth > maxNesting {
		return fmt.Errorf("%s: indexes nested too deep", desc.Digest)
	}
	if !mediatype.IsIndex(desc.MediaType) && !mediatype.IsManifest(desc.MediaType) {
		return fmt.Errorf("%s: media type %q is not a manifest or index", desc.Digest, desc.MediaType)
	}
	node, err := pl.node(ctx, desc)
	if err != nil {
		return err
	}
	p := &placement{repo: at.repo, desc: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, node: node, owner: at, done: make(chan struct{})}
	pl.placed[key] = p
	if err := pl.count(); err != nil {
		return err
	}
	for _, m := range node.children {
		if err := pl.visit(ctx, at, m, depth+1); err != nil {
			return err
		}
	}
	for _, b := range node.blobs {
		if err := pl.addBlob(ctx, at, b); err != nil {
			return err
		}
	}
	at.own = append(at.own, p)
	return nil
}

// node reads and parses a manifest or index once per plan.
func (pl *planner) node(ctx context.Context, desc ocispec.Descriptor) (*manifestNode, error) {
	if n := pl.nodes[desc.Digest]; n != nil {
		return n, nil
	}
	raw, err := remote.FetchManifest(ctx, pl.l.r, desc)
	if err != nil {
		return nil, fmt.Errorf("read manifest from the bundle: %w", err)
	}
	var parsed struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		return nil, fmt.Errorf("%s: parse %s: %w", desc.Digest, desc.MediaType, err)
	}
	n := &manifestNode{}
	seen := map[digest.Digest]bool{}
	for _, m := range parsed.Manifests {
		if err := m.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("%s: manifest %q: %w", desc.Digest, m.Digest, err)
		}
		if !seen[m.Digest] {
			seen[m.Digest] = true
			n.children = append(n.children, ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size})
		}
	}
	blobs := parsed.Layers
	if parsed.Config != nil {
		blobs = append([]ocispec.Descriptor{*parsed.Config}, blobs...)
	}
	for _, b := range blobs {
		if err := b.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("%s: blob %q: %w", desc.Digest, b.Digest, err)
		}
		if seen[b.Digest] {
			continue
		}
		seen[b.Digest] = true
		if len(b.URLs) > 0 {
			if ok, _ := pl.l.r.Exists(ctx, b); !ok {
				continue // non-distributable layer: lives at its URLs
			}
		}
		n.blobs = append(n.blobs, ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
	}
	pl.nodes[desc.Digest] = n
	return n, nil
}

// addBlob makes blob b needed in at's repository.
func (pl *planner) addBlob(ctx context.Context, at *artifactTask, b ocispec.Descriptor) error {
	key := placeKey{at.repo, b.Digest}
	if pl.blobPlaced[key] {
		return nil
	}
	pl.blobPlaced[key] = true
	if err := pl.count(); err != nil {
		return err
	}
	bt := pl.blobs[b.Digest]
	if bt == nil {
		ok, err := pl.l.r.Exists(ctx, b)
		if err != nil {
			return err
		}
		bt = &blobTask{desc: b, label: at.label, inBundle: ok}
		pl.blobs[b.Digest] = bt
		pl.p.blobs = append(pl.p.blobs, bt)
		if ok {
			pl.p.totalBytes += b.Size
		}
	}
	bt.repos = append(bt.repos, at.repo)
	return nil
}

func (pl *planner) count() error {
	if pl.n++; pl.n > maxPlacements {
		return fmt.Errorf("%w: more than %d (a digest in a repository each); the bundle is malformed or crafted to exhaust the loader, nothing was pushed", ErrPlanTooLarge, maxPlacements)
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

package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// ListedTag is one tag a recorded bundle set, as the registry has it now.
type ListedTag struct {
	Repository string `json:"repository"` // below the registry host
	Tag        string `json:"tag"`
	Digest     string `json:"digest"` // what the tag points at now ("" if gone)
	// Bundle is the recorded bundle whose BOM has this tag at Digest (the
	// newest, if several); empty when the tag was moved by someone else.
	Bundle string `json:"bundle"`
}

// List lists every tag the bundles recorded in registry set, with the
// digest it points at now and the bundle it came from.
func List(ctx context.Context, c *remote.Client, registry, mode string) ([]ListedTag, []BundleRecord, error) {
	t, err := parseTarget(registry, mode)
	if err != nil {
		return nil, nil, err
	}
	recs, err := ReadRecords(ctx, c, registry, mode)
	if err != nil {
		return nil, nil, err
	}
	type key struct{ repo, tag string }
	claims := map[key]map[string]string{} // digest -> newest bundle
	for _, r := range recs {
		for _, a := range r.BOM.Artifacts {
			if a.Tag == "" {
				continue
			}
			k := key{t.repo(a.Repository), a.Tag}
			if claims[k] == nil {
				claims[k] = map[string]string{}
			}
			claims[k][a.Digest] = r.ID
		}
	}
	var out []ListedTag
	for k, byDigest := range claims {
		rc, err := c.RepositoryAt(ctx, t.host, k.repo)
		if err != nil {
			return nil, nil, err
		}
		got, found, err := rc.ManifestDigest(ctx, k.tag, digest.Canonical)
		if err != nil {
			return nil, nil, fmt.Errorf("%s/%s:%s: %w", t.host, k.repo, k.tag, err)
		}
		lt := ListedTag{Repository: k.repo, Tag: k.tag}
		if found {
			lt.Digest, lt.Bundle = got.String(), byDigest[got.String()]
		}
		out = append(out, lt)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Tag < out[j].Tag
	})
	return out, recs, nil
}

// UnloadOptions configure Unload.
type UnloadOptions struct {
	// Registry and PathMode as the bundle was loaded.
	Registry string
	PathMode string
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
}

// UnloadResult is what Unload removed (or would remove).
type UnloadResult struct {
	Bundle string `json:"bundle"`
	// Untagged are REPO:TAG the bundle set that pointed at its digests;
	// Deleted are REPO@DIGEST manifests no other recorded bundle needs;
	// Kept are manifests another bundle still needs.
	Untagged []string `json:"untagged"`
	Deleted  []string `json:"deleted"`
	Kept     []string `json:"kept,omitempty"`
	// ReferrerTags are REPO:TAG referrers indexes (the OCI referrers tag
	// schema, sha256-<hex>) that listed deleted manifests: rewritten
	// without them, or deleted when nothing was left.
	ReferrerTags []string `json:"referrerTags,omitempty"`
	DryRun       bool     `json:"dryRun,omitempty"`
}

// ErrNotRecorded means the registry holds no record of the bundle.
var ErrNotRecorded = errors.New("the registry has no record of this bundle (was it loaded there, with this path mode?)")

// Unload removes what bundle load set for the bundle whose BOM is bomJSON:
// its tags that still point at its digests, then every manifest of it
// (indexes, their platform manifests, signatures, referrers) that no other
// recorded bundle needs, the entries of those in referrers-tag indexes,
// then its record. Blobs stay until the registry's garbage
// collection (registry gc for the embedded one). The registry must allow
// deletes.
func Unload(ctx context.Context, c *remote.Client, bomJSON []byte, opts UnloadOptions) (*UnloadResult, error) {
	t, err := parseTarget(opts.Registry, opts.PathMode)
	if err != nil {
		return nil, err
	}
	bom, err := bundle.ParseBOM(bomJSON)
	if err != nil {
		return nil, err
	}
	id := BundleID(bomJSON)
	res := &UnloadResult{Bundle: id, Untagged: []string{}, Deleted: []string{}, DryRun: opts.DryRun}
	recs, err := ReadRecords(ctx, c, opts.Registry, opts.PathMode)
	if err != nil {
		return nil, err
	}
	var own *BundleRecord
	var others []BundleRecord
	for i := range recs {
		if recs[i].ID == id {
			own = &recs[i]
		} else {
			others = append(others, recs[i])
		}
	}
	if own == nil {
		return nil, fmt.Errorf("bundle %s in %s: %w", id, opts.Registry, ErrNotRecorded)
	}
	w := &walker{c: c, t: t, seen: map[string][]string{}}
	needed := map[string]bool{} // repo@digest
	neededTags := map[string]bool{}
	for _, r := range others {
		for _, a := range r.BOM.Artifacts {
			all, err := w.manifests(ctx, a)
			if err != nil {
				return nil, err
			}
			for _, m := range all {
				needed[m] = true
			}
			if a.Tag != "" {
				neededTags[t.repo(a.Repository)+":"+a.Tag+"@"+a.Digest] = true
			}
		}
	}
	var doomed []string
	for _, a := range bom.Artifacts {
		repo := t.repo(a.Repository)
		rc, err := c.RepositoryAt(ctx, t.host, repo)
		if err != nil {
			return nil, err
		}
		if a.Tag != "" && !neededTags[repo+":"+a.Tag+"@"+a.Digest] {
			got, found, err := rc.ManifestDigest(ctx, a.Tag, digest.Canonical)
			if err != nil {
				return nil, fmt.Errorf("%s/%s:%s: %w", t.host, repo, a.Tag, err)
			}
			if found && got.String() == a.Digest {
				res.Untagged = append(res.Untagged, repo+":"+a.Tag)
				if !opts.DryRun {
					if _, err := rc.DeleteManifest(ctx, a.Tag); err != nil {
						return res, fmt.Errorf("untag %s/%s:%s: %w", t.host, repo, a.Tag, err)
					}
				}
			}
		}
		all, err := w.manifests(ctx, a)
		if err != nil {
			return nil, err
		}
		for _, m := range all {
			if needed[m] {
				res.Kept = append(res.Kept, m)
			} else {
				doomed = append(doomed, m)
			}
		}
	}
	slices.Sort(doomed)
	for _, m := range slices.Compact(doomed) {
		res.Deleted = append(res.Deleted, m)
		if opts.DryRun {
			continue
		}
		at := strings.LastIndex(m, "@")
		repo, d := m[:at], m[at+1:]
		rc, err := c.RepositoryAt(ctx, t.host, repo)
		if err != nil {
			return res, err
		}
		if _, err := rc.DeleteManifest(ctx, d); err != nil {
			return res, fmt.Errorf("delete %s/%s: %w", t.host, m, err)
		}
	}
	slices.Sort(res.Kept)
	res.Kept = slices.Compact(res.Kept)
	deleted := map[string]bool{}
	for _, m := range res.Deleted {
		deleted[m] = true
	}
	if res.ReferrerTags, err = pruneReferrerTags(ctx, c, t, bom, deleted, opts.DryRun); err != nil {
		return res, err
	}
	if !opts.DryRun {
		rc, err := c.RepositoryAt(ctx, t.host, t.repo(RecordRepository))
		if err != nil {
			return res, err
		}
		if _, err := rc.DeleteManifest(ctx, recordTag(id)); err != nil {
			return res, fmt.Errorf("delete the bundle record %s: %w", id, err)
		}
	}
	return res, nil
}

// walker finds every manifest below an artifact's root in the registry.
type walker struct {
	c    *remote.Client
	t    target
	seen map[string][]string // repo@root -> all manifests
}

// manifests returns REPO@DIGEST of a's root and, for an index, of every
// manifest it lists (recursively), as the registry holds them; what the
// registry lacks is skipped.
func (w *walker) manifests(ctx context.Context, a bundle.Artifact) ([]string, error) {
	repo := w.t.repo(a.Repository)
	key := repo + "@" + a.Digest
	if all, ok := w.seen[key]; ok {
		return all, nil
	}
	rc, err := w.c.RepositoryAt(ctx, w.t.host, repo)
	if err != nil {
		return nil, err
	}
	d, err := digest.Parse(a.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: BOM digest %q: %w", key, a.Digest, err)
	}
	var all []string
	root := ocispec.Descriptor{MediaType: a.MediaType, Digest: d, Size: a.Size}
	err = walkManifests(ctx, rc, root, func(m ocispec.Descriptor, _ []byte) error {
		all = append(all, repo+"@"+m.Digest.String())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", w.t.host, key, err)
	}
	w.seen[key] = all
	return all, nil
}

// walkManifests fetches desc from rc and, for an index, every manifest it
// lists (recursively, indexes to depth 4), calling visit with each descriptor and
// its verified bytes. Manifests the registry lacks are skipped: a walk of
// content half deleted by an interrupted unload still completes.
func walkManifests(ctx context.Context, rc *remote.Repository, desc ocispec.Descriptor, visit func(ocispec.Descriptor, []byte) error) error {
	var walk func(d ocispec.Descriptor, depth int) error
	walk = func(d ocispec.Descriptor, depth int) error {
		raw, err := remote.FetchManifest(ctx, rc, d)
		if errors.Is(err, remote.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if err := visit(d, raw); err != nil {
			return err
		}
		if !mediatype.IsIndex(d.MediaType) || depth > 4 {
			return nil
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}
		for _, m := range idx.Manifests {
			if err := walk(m, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(desc, 0)
}

package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// pruneReferrerTags settles the OCI referrers tag schema after an unload
// deleted the manifests in deleted (REPO@DIGEST): for every subject the
// bundle attached referrers to, the index tagged sha256-<subject hex>
// (which Load writes where the registry has no referrers API) loses the
// entries of deleted manifests; an index left empty is deleted with its
// tag. It returns REPO:TAG of every referrers tag rewritten or removed (or,
// with dryRun, that would be).
func pruneReferrerTags(ctx context.Context, c *remote.Client, t target, bom *bundle.BOM, deleted map[string]bool, dryRun bool) ([]string, error) {
	var changed []string
	seen := map[string]bool{}
	for _, a := range bom.Artifacts {
		if a.Kind != bundle.KindReferrer || a.Tag != "" || a.Subject == "" {
			continue
		}
		subject, err := digest.Parse(a.Subject)
		if err != nil {
			return changed, fmt.Errorf("%s: subject %q: %w", artifactLabel(a), a.Subject, err)
		}
		repo, tag := t.repo(a.Repository), referrersTag(subject)
		if seen[repo+":"+tag] {
			continue
		}
		seen[repo+":"+tag] = true
		rc, err := c.RepositoryAt(ctx, t.host, repo)
		if err != nil {
			return changed, err
		}
		did, err := pruneReferrerTag(ctx, rc, repo, tag, deleted, dryRun)
		if err != nil {
			return changed, fmt.Errorf("referrers tag %s/%s:%s: %w", t.host, repo, tag, err)
		}
		if did {
			changed = append(changed, repo+":"+tag)
		}
	}
	slices.Sort(changed)
	return changed, nil
}

// pruneReferrerTag drops the deleted manifests from one referrers index;
// it reports whether the index changed (or would). A tag that is missing
// or holds something other than an index is left alone.
func pruneReferrerTag(ctx context.Context, rc *remote.Repository, repo, tag string, deleted map[string]bool, dryRun bool) (bool, error) {
	cur, err := rc.Resolve(ctx, tag)
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up: %w", err)
	}
	if !mediatype.IsIndex(cur.MediaType) {
		return false, nil
	}
	raw, err := remote.FetchManifest(ctx, rc, cur)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", cur.Digest, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return false, nil // not ours to judge: leave it
	}
	kept := slices.DeleteFunc(slices.Clone(idx.Manifests), func(d ocispec.Descriptor) bool {
		return deleted[repo+"@"+d.Digest.String()]
	})
	if len(kept) == len(idx.Manifests) || dryRun {
		return len(kept) != len(idx.Manifests), nil
	}
	if len(kept) > 0 {
		idx.Manifests = kept
		next, err := json.Marshal(idx)
		if err != nil {
			return false, err
		}
		desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, next)
		if _, err := rc.PushManifest(ctx, desc, next, remote.PushOptions{Tag: tag}); err != nil {
			return false, fmt.Errorf("write the pruned index: %w", err)
		}
	}
	// The old index, by digest: with nothing kept this also removes the tag.
	if _, err := rc.DeleteManifest(ctx, cur.Digest.String()); err != nil {
		return false, fmt.Errorf("delete the old index %s: %w", cur.Digest, err)
	}
	return true, nil
}

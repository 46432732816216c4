package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// referrerGroup is every referrer of one subject in one target repository.
type referrerGroup struct {
	repo    string
	subject digest.Digest
	descs   []ocispec.Descriptor // with artifactType and annotations, as a referrers listing shows them
}

// linkReferrers makes every referrer the bundle carries by digest (the
// bundle SBOM, upstream SBOMs and attestations) findable from its subject.
// A registry with the OCI referrers API lists them once they are pushed;
// for one without it (CNCF Distribution, the embedded registry) Load writes
// the OCI referrers tag schema: the index tagged sha256-<subject hex> that
// lists the subject's referrers, merged with what the tag already lists.
// Each subject is then listed again and must show every referrer, else the
// load fails (re-running finishes it): it is not reported as loaded.
func (l *loader) linkReferrers(ctx context.Context, bom *bundle.BOM) error {
	groups, err := l.referrerGroups(ctx, bom)
	if err != nil || len(groups) == 0 {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Concurrency)
	for _, rg := range groups {
		g.Go(func() error {
			if err := l.linkSubject(gctx, rg); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("referrers of %s/%s@%s: %w", l.t.host, rg.repo, rg.subject, hint(err))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return l.wrapRunErr(ctx, err)
	}
	return nil
}

// referrerGroups gathers the untagged referrers of the BOM by repository
// and subject, in BOM order, reading each manifest for its artifactType
// and annotations.
func (l *loader) referrerGroups(ctx context.Context, bom *bundle.BOM) ([]*referrerGroup, error) {
	type key struct {
		repo    string
		subject digest.Digest
	}
	byKey := map[key]*referrerGroup{}
	var out []*referrerGroup
	for _, a := range bom.Artifacts {
		if a.Kind != bundle.KindReferrer || a.Tag != "" {
			continue
		}
		subject, err := digest.Parse(a.Subject)
		if err != nil {
			return nil, fmt.Errorf("%s: subject %q: %w", artifactLabel(a), a.Subject, err)
		}
		desc, err := rootDescriptor(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", artifactLabel(a), err)
		}
		raw, err := l.manifestBytes(ctx, desc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", artifactLabel(a), err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: parse manifest: %w", artifactLabel(a), err)
		}
		desc.ArtifactType, desc.Annotations = m.ArtifactType, m.Annotations
		if desc.ArtifactType == "" {
			desc.ArtifactType = m.Config.MediaType
		}
		k := key{l.t.repo(a.Repository), subject}
		rg := byKey[k]
		if rg == nil {
			rg = &referrerGroup{repo: k.repo, subject: subject}
			byKey[k] = rg
			out = append(out, rg)
		}
		rg.descs = append(rg.descs, desc)
	}
	return out, nil
}

// linkSubject lists rg's subject's referrers and, when some of rg's are
// missing, merges them into the referrers tag and lists again.
func (l *loader) linkSubject(ctx context.Context, rg *referrerGroup) error {
	rc, err := l.repoFor(ctx, rg.repo)
	if err != nil {
		return err
	}
	subject := ocispec.Descriptor{Digest: rg.subject}
	missing, err := missingReferrers(ctx, rc, subject, rg.descs)
	if err != nil || len(missing) == 0 {
		return err
	}
	tag := referrersTag(rg.subject)
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	cur, err := rc.Resolve(ctx, tag)
	switch {
	case err == nil:
		raw, err := remote.FetchManifest(ctx, rc, cur)
		if err != nil {
			return fmt.Errorf("read the referrers tag %s: %w", tag, err)
		}
		if !mediatype.IsIndex(cur.MediaType) || json.Unmarshal(raw, &idx) != nil {
			return fmt.Errorf("the tag %s, where the OCI referrers tag schema keeps the referrers index, holds a %s that is not an index; move or delete that tag, then re-run", tag, cur.MediaType)
		}
	case !errors.Is(err, remote.ErrNotFound):
		return fmt.Errorf("look up the referrers tag %s: %w", tag, err)
	}
	idx.Manifests = append(idx.Manifests, missing...)
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, raw)
	if _, err := rc.PushManifest(ctx, desc, raw, l.pushOptions(tag)); err != nil {
		return fmt.Errorf("write the referrers tag %s: %w", tag, err)
	}
	l.stats.tagsPushed.Add(1)
	if missing, err = missingReferrers(ctx, rc, subject, rg.descs); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the registry took the referrers %s and the referrers tag %s, but does not list them as referrers of the subject", ErrRegistryInconsistent, missing[0].Digest, tag)
	}
	return nil
}

// missingReferrers returns those of want that the registry does not list
// as referrers of subject.
func missingReferrers(ctx context.Context, rc *remote.Repository, subject ocispec.Descriptor, want []ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	listed, err := rc.Referrers(ctx, subject, "")
	if err != nil {
		return nil, fmt.Errorf("list referrers: %w", err)
	}
	have := map[digest.Digest]bool{}
	for _, d := range listed {
		have[d.Digest] = true
	}
	var out []ocispec.Descriptor
	for _, d := range want {
		if !have[d.Digest] {
			out = append(out, d)
		}
	}
	return out, nil
}

// referrersTag is the tag of the OCI referrers tag schema for subject:
// sha256-<hex>.
func referrersTag(subject digest.Digest) string {
	return subject.Algorithm().String() + "-" + subject.Encoded()
}

package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/remote"
	"github.com/lattice-mesh/meshpack/signing"
)

// Tag policies of LoadOptions.OnExistingTag: what Load does with a tag the
// registry already has pointing at another digest than the bundle's.
const (
	// TagFail (the default) refuses the load before anything is pushed and
	// lists every conflict (*TagConflictError, ErrTagConflict).
	TagFail = "fail"
	// TagSkip leaves the registry's tag as it is; the bundle's manifest is
	// still pushed by digest.
	TagSkip = "skip"
	// TagOverwrite moves the tag to the bundle's digest.
	TagOverwrite = "overwrite"
)

// ErrTagConflict means tags the bundle sets already point at other digests
// in the registry and LoadOptions.OnExistingTag is TagFail. Nothing was
// pushed. The error is a *TagConflictError listing every conflict.
var ErrTagConflict = errors.New("tags already point at other digests in the registry")

// TagConflict is one tag the bundle sets that the registry already has
// pointing at another digest, and what Load did about it.
type TagConflict struct {
	// Reference is HOST/PATH:TAG.
	Reference      string `json:"reference"`
	RegistryDigest string `json:"registryDigest"`
	BundleDigest   string `json:"bundleDigest"`
	// Action is TagFail, TagSkip or TagOverwrite.
	Action string `json:"action"`
}

// TagConflictError lists every tag conflict found before the push; it
// matches ErrTagConflict.
type TagConflictError struct {
	Target    string
	Conflicts []TagConflict
}

func (e *TagConflictError) Error() string {
	var b strings.Builder
	what := "tags already point"
	if len(e.Conflicts) == 1 {
		what = "tag already points"
	}
	fmt.Fprintf(&b, "load into %s refused, nothing was pushed: %d %s at other digests in the registry (LoadOptions.OnExistingTag is %q):", e.Target, len(e.Conflicts), what, TagFail)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s: registry %s, bundle %s", c.Reference, c.RegistryDigest, c.BundleDigest)
	}
	return b.String()
}

// Is makes a *TagConflictError match ErrTagConflict.
func (e *TagConflictError) Is(target error) bool { return target == ErrTagConflict }

// checkTagPolicy validates LoadOptions.OnExistingTag ("" is TagFail).
func checkTagPolicy(p string) (string, error) {
	switch p {
	case "":
		return TagFail, nil
	case TagFail, TagSkip, TagOverwrite:
		return p, nil
	}
	return "", fmt.Errorf("LoadOptions.OnExistingTag %q: want %s, %s or %s", p, TagFail, TagSkip, TagOverwrite)
}

// checkTags resolves every tag the plan sets (GET of the manifest by tag; a
// 404 is no conflict) and records each that points at another digest, with
// the action of the tag policy. Under TagSkip the artifact's tag is left
// alone; under TagFail the conflicts come back as a *TagConflictError.
// Nothing is written.
func (l *loader) checkTags(ctx context.Context, p *loadPlan) ([]TagConflict, error) {
	var conflicts []TagConflict
	skipped := map[artKey]bool{}
	for _, at := range p.artifacts {
		if at.a.Tag == "" {
			continue
		}
		if at.dup {
			at.skipTag = skipped[artKey{at.repo, at.a.Tag, at.root.Digest}]
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rc, err := l.repoFor(ctx, at.repo)
		if err != nil {
			return nil, err
		}
		got, found, err := rc.ManifestDigest(ctx, at.a.Tag, at.root.Digest.Algorithm())
		if err != nil {
			return nil, fmt.Errorf("%s into %s/%s: resolve tag %s: %w", at.label, l.t.host, at.repo, at.a.Tag, hint(err))
		}
		at.tagExists = found && got == at.root.Digest
		if found && got != at.root.Digest && l.sameSigner(ctx, rc, at.a.Tag, got) {
			at.tagExists = true // the digest is signed already, by the same key
		}
		if !found || at.tagExists {
			continue
		}
		at.skipTag = l.opts.OnExistingTag == TagSkip
		at.conflict = true
		skipped[artKey{at.repo, at.a.Tag, at.root.Digest}] = at.skipTag
		conflicts = append(conflicts, TagConflict{
			Reference:      l.t.host + "/" + at.repo + ":" + at.a.Tag,
			RegistryDigest: got.String(),
			BundleDigest:   at.root.Digest.String(),
			Action:         l.opts.OnExistingTag,
		})
	}
	if len(conflicts) > 0 && l.opts.OnExistingTag == TagFail {
		return conflicts, &TagConflictError{Target: l.t.String(), Conflicts: conflicts}
	}
	return conflicts, nil
}

// sameSigner reports whether tag is a cosign signature tag
// (sha256-<hex>.sig) whose manifest in the registry, got, holds a valid
// signature of that digest by LoadOptions.Key. Loading the next bundle signed
// with the same key then leaves the registry's signature as it is: an ECDSA
// signature differs each time it is made, so the two signature manifests
// differ while saying the same thing. Any doubt (no key, a fetch error, a
// signature by another key) is a conflict, handled by the tag policy.
func (l *loader) sameSigner(ctx context.Context, rc *remote.Repository, tag string, got digest.Digest) bool {
	hex, ok := strings.CutSuffix(strings.TrimPrefix(tag, "sha256-"), ".sig")
	if l.opts.Key == nil || !ok || !strings.HasPrefix(tag, "sha256-") {
		return false
	}
	subject, err := digest.Parse("sha256:" + hex)
	if err != nil {
		return false
	}
	desc, err := rc.Resolve(ctx, got.String())
	if err != nil || desc.Size > 4<<20 {
		return false
	}
	r, err := rc.Fetch(ctx, desc)
	if err != nil {
		return false
	}
	manifest, err := content.ReadAll(r, desc)
	r.Close()
	if err != nil {
		return false
	}
	sig, err := signing.ParseSignatureImage(ctx, rc, manifest)
	if err != nil {
		return false
	}
	_, err = signing.Verify(ctx, l.opts.Key, subject, sig)
	return err == nil
}

// unskipped drops the tag from the reference of every artifact whose tag
// Load leaves to another digest (TagSkip): it is there by digest only.
func unskipped(p *loadPlan, arts []LoadedArtifact) {
	for i, at := range p.artifacts {
		if at.skipTag && i < len(arts) {
			arts[i].Reference = arts[i].Repository + "@" + arts[i].Digest
		}
	}
}

// recheckTag resolves at's tag again just before it is set, unless the
// policy is TagOverwrite or checkTags already settled it: a tag another
// client set since then is a late conflict. Under TagSkip it is recorded
// and left alone (skip is true); under TagFail the artifact fails with
// ErrTagConflict.
func (l *loader) recheckTag(ctx context.Context, rc *remote.Repository, at *artifactTask) (skip bool, err error) {
	if l.opts.OnExistingTag == TagOverwrite || at.tagExists {
		return false, nil
	}
	got, found, err := rc.ManifestDigest(ctx, at.a.Tag, at.root.Digest.Algorithm())
	if err != nil {
		return false, fmt.Errorf("resolve: %w", err)
	}
	if !found || got == at.root.Digest {
		return false, nil
	}
	c := TagConflict{Reference: l.t.host + "/" + at.repo + ":" + at.a.Tag, RegistryDigest: got.String(), BundleDigest: at.root.Digest.String(), Action: l.opts.OnExistingTag}
	if l.opts.OnExistingTag == TagFail {
		return false, fmt.Errorf("%w: %s was set to %s by another client after the check before the push (LoadOptions.OnExistingTag is %q); left as it is", ErrTagConflict, c.Reference, c.RegistryDigest, TagFail)
	}
	l.lateMu.Lock()
	l.late = append(l.late, c)
	l.lateMu.Unlock()
	return true, nil
}

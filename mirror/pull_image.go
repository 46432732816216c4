package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/signing"
)

// pulledImage is one image planned for the bundle.
type pulledImage struct {
	locked   manifests.LockedImage
	repo     oras.ReadOnlyTarget
	graph    *imageGraph
	path     string // repository path below the registry, e.g. istio/pilot
	tag      string
	checks   []string
	upstream map[digest.Digest]*signing.SignatureImage // upstream signatures by subject
	// referrers are upstream SBOMs and attestations of carried digests.
	referrers []upstreamReferrer
}

// planImage fetches an image's manifests by the digests the lock pins and
// checks its upstream signature.
func (pl *puller) planImage(ctx context.Context, li manifests.LockedImage) (*pulledImage, error) {
	repo, target, err := pl.c.Repository(ctx, li.Reference)
	if err != nil {
		return nil, err
	}
	d, err := digest.Parse(li.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: lock digest %q: %w", li.Reference, li.Digest, err)
	}
	root := ocispec.Descriptor{MediaType: li.MediaType, Digest: d, Size: li.Size}
	g, err := fetchImageGraph(ctx, repo, root, pl.platforms)
	if err != nil {
		return nil, fmt.Errorf("image %s from %s: %w", li.Reference, target, err)
	}
	path, tag, err := repoPath(li.Reference)
	if err != nil {
		return nil, err
	}
	img := &pulledImage{locked: li, repo: repo, graph: g, path: path, tag: tag, checks: []string{"digest:lock"}}
	if err := pl.checkUpstream(ctx, img); err != nil {
		return nil, err
	}
	if err := pl.findReferrers(ctx, img); err != nil {
		return nil, err
	}
	return img, nil
}

// checkUpstream applies the upstream policy (PullOptions.VerifyUpstream)
// to one image.
func (pl *puller) checkUpstream(ctx context.Context, img *pulledImage) error {
	li := img.locked
	if li.SignedBy == "" {
		img.checks = append(img.checks, "upstream-signature:not-published")
		return nil
	}
	if pl.policy == VerifyOff {
		img.checks = append(img.checks, CheckUpstreamSkipped)
		return nil
	}
	v := pl.opts.UpstreamKeys[li.SignedBy]
	if v == nil {
		if pl.policy == VerifyRequired {
			return &UpstreamError{Image: li.Reference, Key: li.SignedBy, Err: ErrNoUpstreamKey}
		}
		img.checks = append(img.checks, "upstream-signature:unverified(no key "+li.SignedBy+")")
		return nil
	}
	img.upstream = map[digest.Digest]*signing.SignatureImage{}
	subject := img.graph.upstreamDigest
	sig, err := signing.Fetch(ctx, img.repo, subject)
	switch {
	case errors.Is(err, signing.ErrNoSignature) && pl.policy == VerifyIfSigned:
		img.checks = append(img.checks, "upstream-signature:absent")
		return nil
	case errors.Is(err, signing.ErrNoSignature):
		return &UpstreamError{Image: li.Reference, Subject: subject, Key: li.SignedBy, Err: err}
	case err != nil:
		return fmt.Errorf("image %s: fetch upstream signature: %w", li.Reference, err)
	}
	if _, err := signing.Verify(ctx, v, subject, sig); err != nil {
		return fmt.Errorf("image %s (%s): upstream signature does not verify with key %q: %w", li.Reference, subject, li.SignedBy, err)
	}
	img.upstream[subject] = sig
	img.checks = append(img.checks, "cosign:"+li.SignedBy)
	// Istio signs recursively: carry each platform manifest's signature too.
	for _, pm := range img.graph.platforms {
		if pm.desc.Digest == subject {
			continue
		}
		psig, err := signing.Fetch(ctx, img.repo, pm.desc.Digest)
		if err != nil {
			if errors.Is(err, signing.ErrNoSignature) {
				continue
			}
			return fmt.Errorf("image %s %s: fetch upstream signature: %w", li.Reference, pm.platform, err)
		}
		if _, err := signing.Verify(ctx, v, pm.desc.Digest, psig); err != nil {
			return fmt.Errorf("image %s %s (%s): upstream signature does not verify with key %q: %w", li.Reference, pm.platform, pm.desc.Digest, li.SignedBy, err)
		}
		img.upstream[pm.desc.Digest] = psig
	}
	return nil
}

// addImage puts an image, its upstream signatures and (with a signer) our
// signatures into the plan.
func (pl *puller) addImage(ctx context.Context, p *plan, img *pulledImage) error {
	g := img.graph
	p.addSmall(g.root)
	for _, m := range g.manifests {
		p.addSmall(m)
	}
	for _, b := range g.blobs {
		p.addStreamed(img.repo, b, img.locked.Reference)
	}
	a := bundle.Artifact{
		Kind: bundle.KindImage, Name: img.locked.Name, Source: img.locked.Reference,
		Repository: img.path, Tag: img.tag, Checks: img.checks,
	}
	// Recorded always, so an auditor sees upstream's digest next to the
	// stored one (they differ when a platform filter rewrote the index).
	a.UpstreamDigest = g.upstreamDigest.String()
	for _, pm := range g.platforms {
		if pm.platform != "" {
			a.Platforms = append(a.Platforms, bundle.Platform{Platform: pm.platform, Digest: pm.desc.Digest.String(), Size: pm.desc.Size})
		}
	}
	p.addRoot(a, g.root.desc, img.locked.Reference)
	subjects := []ocispec.Descriptor{g.root.desc}
	for _, m := range g.manifests {
		subjects = append(subjects, m.desc)
	}
	for _, s := range subjects {
		if err := pl.addSignature(ctx, p, img, s); err != nil {
			return err
		}
	}
	// An upstream index signature whose index was rewritten by the platform
	// filter is kept for the audit trail under its own subject.
	if sig := img.upstream[g.upstreamDigest]; sig != nil && g.upstreamDigest != g.root.desc.Digest {
		pl.addSignatureImage(p, img, g.upstreamDigest, sig, []string{"cosign:" + img.locked.SignedBy, "subject:upstream-index"})
	}
	pl.addReferrers(p, img)
	return nil
}

// addSignature signs subject (appending to the upstream signature image when
// there is one) or, unsigned, carries the upstream signature alone.
func (pl *puller) addSignature(ctx context.Context, p *plan, img *pulledImage, subject ocispec.Descriptor) error {
	existing := img.upstream[subject.Digest]
	var checks []string
	if existing != nil {
		checks = append(checks, "cosign:"+img.locked.SignedBy)
	}
	sig := existing
	if pl.opts.Signer != nil {
		var err error
		sig, err = signing.Sign(ctx, pl.opts.Signer, img.locked.Reference, subject, existing)
		if err != nil {
			return fmt.Errorf("image %s: sign %s: %w", img.locked.Reference, subject.Digest, err)
		}
		checks = append(checks, "signed:bundle-key")
	}
	if sig == nil {
		return nil
	}
	pl.addSignatureImage(p, img, subject.Digest, sig, checks)
	return nil
}

func (pl *puller) addSignatureImage(p *plan, img *pulledImage, subject digest.Digest, sig *signing.SignatureImage, checks []string) {
	for _, b := range sig.Blobs {
		p.addSmall(blobData{desc: b.Descriptor, data: b.Data})
	}
	desc := sig.Descriptor()
	p.addSmall(blobData{desc: desc, data: sig.Manifest})
	tag := signing.SignatureTag(subject)
	p.addRoot(bundle.Artifact{
		Kind: bundle.KindSignature, Name: img.locked.Name, Source: img.locked.Reference,
		Repository: img.path, Tag: tag, Subject: subject.String(), Checks: checks,
	}, desc, registryOf(img.locked.Reference)+"/"+img.path+":"+tag)
}

// registryOf returns the registry host of a canonical reference.
func registryOf(ref string) string {
	for i := 0; i < len(ref); i++ {
		if ref[i] == '/' {
			return ref[:i]
		}
	}
	return ref
}

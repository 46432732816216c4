package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// CheckUpstreamReferrer is the check of an SBOM or attestation carried from
// upstream: found by its subject, copied byte for byte and pinned by digest
// in the BOM, its content not verified by meshpack (attestations keep their
// own signatures, which `cosign verify-attestation` checks in the enclave).
const CheckUpstreamReferrer = "upstream-referrer:unverified"

// cosignReferrerSuffixes are the tag suffixes cosign stores SBOMs
// (`cosign attach sbom`) and attestations (`cosign attest`) under, next to
// the image: sha256-<hex>.sbom, sha256-<hex>.att.
var cosignReferrerSuffixes = []string{".sbom", ".att"}

// referrerLister lists the referrers of a manifest (remote.Repository).
type referrerLister interface {
	Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error)
}

// upstreamReferrer is one SBOM or attestation upstream published for a
// digest the bundle carries.
type upstreamReferrer struct {
	subject      digest.Digest
	tag          string // the cosign tag it was found under; "" for the referrers API
	manifest     blobData
	artifactType string
	blobs        []ocispec.Descriptor // config and layers
}

// findReferrers looks up, for every digest of img the bundle carries
// unchanged (the root unless the platform filter rewrote it, and every
// platform manifest), the manifests upstream lists as its referrers (OCI
// referrers API, or its fallback tag) and the cosign .sbom and .att tags,
// and keeps them in img.referrers.
func (pl *puller) findReferrers(ctx context.Context, img *pulledImage) error {
	lister, ok := img.repo.(referrerLister)
	if !ok {
		return nil
	}
	g := img.graph
	var subjects []ocispec.Descriptor
	if g.root.desc.Digest == g.upstreamDigest {
		subjects = append(subjects, g.root.desc)
	}
	for _, m := range g.manifests {
		subjects = append(subjects, m.desc)
	}
	seen := map[digest.Digest]bool{}
	keep := func(subject digest.Digest, desc ocispec.Descriptor, tag string) error {
		if seen[desc.Digest] {
			return nil
		}
		seen[desc.Digest] = true
		if !mediatype.IsManifest(desc.MediaType) {
			pl.log.Debug("referrer skipped: not an image manifest", "image", img.locked.Reference, "subject", subject, "referrer", desc.Digest, "mediaType", desc.MediaType)
			return nil
		}
		r, err := pl.fetchReferrer(ctx, img, subject, desc, tag)
		if err != nil {
			return fmt.Errorf("image %s: upstream referrer %s of %s: %w", img.locked.Reference, desc.Digest, subject, err)
		}
		img.referrers = append(img.referrers, r)
		return nil
	}
	// Every lookup (the referrers of each subject, each cosign tag) is one
	// round trip: run them at once, then keep what they found in order.
	type found struct {
		subject digest.Digest
		desc    ocispec.Descriptor
		tag     string
	}
	perSubject := 1 + len(cosignReferrerSuffixes)
	results := make([][]found, len(subjects)*perSubject)
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(8)
	for i, s := range subjects {
		eg.Go(func() error {
			if !pl.lookupSlot(gctx) {
				return gctx.Err()
			}
			defer pl.lookupDone()
			descs, err := lister.Referrers(gctx, s, "")
			if err != nil {
				return fmt.Errorf("image %s: list the referrers (SBOMs, attestations) of %s: %w; the registry, or a mirror in front of it, failed to answer the OCI referrers API: fix that or use a mirror that answers, then re-run", img.locked.Reference, s.Digest, err)
			}
			for _, d := range descs {
				results[i*perSubject] = append(results[i*perSubject], found{s.Digest, d, ""})
			}
			return nil
		})
		for j, suffix := range cosignReferrerSuffixes {
			eg.Go(func() error {
				if !pl.lookupSlot(gctx) {
					return gctx.Err()
				}
				defer pl.lookupDone()
				tag := "sha256-" + s.Digest.Encoded() + suffix
				d, err := img.repo.Resolve(gctx, tag)
				if errors.Is(err, remote.ErrNotFound) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("image %s: look up the cosign tag %s: %w", img.locked.Reference, tag, err)
				}
				results[i*perSubject+1+j] = []found{{s.Digest, d, tag}}
				return nil
			})
		}
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	for _, fs := range results {
		for _, f := range fs {
			if err := keep(f.subject, f.desc, f.tag); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookupSlot waits for a place among the referrer lookups in flight; false
// when ctx ends first.
func (pl *puller) lookupSlot(ctx context.Context) bool {
	select {
	case pl.lookups <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (pl *puller) lookupDone() { <-pl.lookups }

// fetchReferrer reads one referrer manifest (checked against its digest)
// and the blobs it needs.
func (pl *puller) fetchReferrer(ctx context.Context, img *pulledImage, subject digest.Digest, desc ocispec.Descriptor, tag string) (upstreamReferrer, error) {
	raw, err := remote.FetchManifest(ctx, img.repo, desc)
	if err != nil {
		return upstreamReferrer{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return upstreamReferrer{}, fmt.Errorf("parse manifest: %w", err)
	}
	if tag == "" && (m.Subject == nil || m.Subject.Digest != subject) {
		return upstreamReferrer{}, fmt.Errorf("%w: the registry lists it as a referrer, but its subject is not that digest", ErrRegistryInconsistent)
	}
	r := upstreamReferrer{
		subject: subject, tag: tag, artifactType: m.ArtifactType,
		manifest: blobData{desc: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: m.ArtifactType}, data: raw},
	}
	if r.artifactType == "" {
		r.artifactType = m.Config.MediaType
	}
	for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if err := b.Digest.Validate(); err != nil {
			return upstreamReferrer{}, fmt.Errorf("blob %q: %w", b.Digest, err)
		}
		r.blobs = append(r.blobs, ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
	}
	return r, nil
}

// addReferrers puts img's upstream referrers into the plan, each in its
// image's repository: by digest (its subject links it to the image in a
// registry with the referrers API) or under its cosign tag.
func (pl *puller) addReferrers(p *plan, img *pulledImage) {
	for _, r := range img.referrers {
		p.addSmall(r.manifest)
		for _, b := range r.blobs {
			p.addStreamed(img.repo, b, img.locked.Reference+" referrer "+r.manifest.desc.Digest.String())
		}
		refName := registryOf(img.locked.Reference) + "/" + img.path + "@" + r.manifest.desc.Digest.String()
		if r.tag != "" {
			refName = registryOf(img.locked.Reference) + "/" + img.path + ":" + r.tag
		}
		p.addRoot(bundle.Artifact{
			Kind: bundle.KindReferrer, Name: img.locked.Name, Source: img.locked.Reference,
			Repository: img.path, Tag: r.tag, Subject: r.subject.String(), ArtifactType: r.artifactType,
			Checks: []string{CheckUpstreamReferrer},
		}, r.manifest.desc, refName)
	}
}

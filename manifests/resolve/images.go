package resolve

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// imageRequest is one image to pin.
type imageRequest struct {
	name       string
	reference  string // canonical, with tag (or digest)
	components []string
	signedBy   string
}

// resolveImage pins an image reference to its index (or manifest) digest and
// lists every platform manifest, failing when a platform filter leaves none.
func resolveImage(ctx context.Context, c *remote.Client, req imageRequest, platforms []string) (manifests.LockedImage, error) {
	repo, target, err := c.Repository(ctx, req.reference)
	if err != nil {
		return manifests.LockedImage{}, err
	}
	tagOrDigest := target.Reference.Reference
	desc, err := repo.Resolve(ctx, tagOrDigest)
	if err != nil {
		return manifests.LockedImage{}, fmt.Errorf("image %s: resolve at %s: %w", req.reference, target, err)
	}
	li := manifests.LockedImage{
		Name: req.name, Reference: req.reference, Digest: desc.Digest.String(),
		MediaType: desc.MediaType, Size: desc.Size,
		Components: req.components, SignedBy: req.signedBy,
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest, mediatype.DockerManifest:
		p, err := manifestPlatform(ctx, repo, desc)
		if err != nil {
			return manifests.LockedImage{}, fmt.Errorf("image %s: %w", req.reference, err)
		}
		li.Platforms = []manifests.LockedPlatform{{Platform: p, Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size}}
		if !manifests.PlatformMatches(p, platforms) {
			return manifests.LockedImage{}, fmt.Errorf("image %s: its only platform %s (a single manifest, no index) is not one of %v: %w", req.reference, p, platforms, ErrNoPlatform)
		}
		return li, nil
	case ocispec.MediaTypeImageIndex, mediatype.DockerManifestList:
	default:
		return manifests.LockedImage{}, fmt.Errorf("image %s: %s has unsupported media type %q", req.reference, desc.Digest, desc.MediaType)
	}
	raw, err := remote.FetchManifest(ctx, repo, desc)
	if err != nil {
		return manifests.LockedImage{}, fmt.Errorf("image %s: %w", req.reference, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return manifests.LockedImage{}, fmt.Errorf("image %s: parse index %s: %w", req.reference, desc.Digest, err)
	}
	matched := 0
	for _, m := range idx.Manifests {
		p := manifests.FormatPlatform(m.Platform)
		li.Platforms = append(li.Platforms, manifests.LockedPlatform{Platform: p, Digest: m.Digest.String(), MediaType: m.MediaType, Size: m.Size})
		if manifests.PlatformMatches(p, platforms) {
			matched++
		}
	}
	if matched == 0 {
		return manifests.LockedImage{}, fmt.Errorf("image %s: none of its platforms %v is one of %v: %w", req.reference, platformList(li.Platforms), platforms, ErrNoPlatform)
	}
	sort.SliceStable(li.Platforms, func(i, j int) bool { return li.Platforms[i].Platform < li.Platforms[j].Platform })
	return li, nil
}

// manifestPlatform reads the platform of a single image manifest from its
// config ("os/arch[/variant]"), or "unknown/unknown" when the config names
// none (an artifact rather than an image).
func manifestPlatform(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (string, error) {
	raw, err := remote.FetchManifest(ctx, f, desc)
	if err != nil {
		return "", err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
	}
	cfgRaw, err := remote.FetchManifest(ctx, f, m.Config)
	if err != nil {
		return "", fmt.Errorf("config of manifest %s: %w", desc.Digest, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cfgRaw, &cfg); err != nil || cfg.OS == "" || cfg.Architecture == "" {
		return manifests.FormatPlatform(nil), nil
	}
	return manifests.FormatPlatform(&cfg.Platform), nil
}

func platformList(ps []manifests.LockedPlatform) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Platform)
	}
	return out
}

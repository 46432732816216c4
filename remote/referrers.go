package remote

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
)

// maxReferrerPages caps how many pages of a referrers listing are read: an
// image has a handful of SBOMs, signatures and attestations, not thousands.
const maxReferrerPages = 10

// Referrers lists the manifests whose subject is desc (GET
// /v2/<name>/referrers/<digest>), filtered by artifactType when it is not
// empty. A registry without the referrers API is asked for the OCI
// fallback tag (sha256-<hex>) instead; a registry with neither, or a
// subject nothing refers to, yields an empty list and no error.
func (r *Repository) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	err := r.retryStalled(ctx, func() error {
		out = out[:0]
		pages := 0
		return mapError(r.oras.Referrers(ctx, desc, artifactType, func(page []ocispec.Descriptor) error {
			if pages++; pages > maxReferrerPages {
				return fmt.Errorf("referrers of %s: more than %d pages; the registry lists too many", desc.Digest, maxReferrerPages)
			}
			out = append(out, page...)
			return nil
		}))
	})
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, errdef.ErrUnsupported):
		return nil, nil
	}
	return nil, err
}

package remote

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// MaxManifestBytes caps any manifest, index or image config read into memory.
const MaxManifestBytes = 4 << 20

// FetchManifest reads a manifest, index or image config by descriptor and
// verifies its size and digest; anything over MaxManifestBytes is refused.
func FetchManifest(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	return FetchSmall(ctx, f, desc, MaxManifestBytes)
}

// FetchSmall reads a blob of at most limit bytes into memory, verifying its
// size and digest (a chart archive, a manifest).
func FetchSmall(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit for reading into memory", desc.Digest, desc.Size, limit)
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", desc.Digest, err)
	}
	return raw, nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lattice-mesh/meshpack/remote"
)

// RemoteRegistry answers Registry with meshpack's one network client (its
// TLS, credentials and plain-HTTP settings).
func RemoteRegistry(c *remote.Client) Registry { return remoteRegistry{c} }

type remoteRegistry struct{ c *remote.Client }

// HasManifest resolves ref's digest in its repository (HEAD, or GET when
// the registry answers HEAD without a digest); 404 is false.
func (r remoteRegistry) HasManifest(ctx context.Context, ref string) (bool, error) {
	name, dgst, ok := strings.Cut(ref, "@")
	host, path, ok2 := strings.Cut(name, "/")
	if !ok || !ok2 {
		return false, fmt.Errorf("image %q: want HOST/REPOSITORY@DIGEST", ref)
	}
	repo, err := r.c.RepositoryAt(ctx, host, path)
	if err != nil {
		return false, err
	}
	desc, err := repo.Resolve(ctx, dgst)
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return desc.Digest.String() == dgst, nil
}

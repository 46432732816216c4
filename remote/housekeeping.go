package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// DeleteManifest deletes reference, a tag or a digest, from the
// repository (DELETE /v2/<path>/manifests/<reference>): a tag is untagged,
// a digest removes the manifest and every tag on it. It reports false when
// there was nothing to delete (404). A registry that does not allow
// deletes answers 405 (ErrUnsupported).
func (r *Repository) DeleteManifest(ctx context.Context, reference string) (bool, error) {
	ctx = auth.AppendRepositoryScope(ctx, r.oras.Reference, auth.ActionPull, auth.ActionDelete)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.base.JoinPath("manifests", reference).String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := r.do(req, http.StatusAccepted, http.StatusOK, http.StatusNoContent, http.StatusNotFound)
	if err != nil {
		return false, fmt.Errorf("DELETE %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode != http.StatusNotFound, nil
}

// Tags lists the repository's tags (all pages); a repository the registry
// does not know has none.
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	var out []string
	err := r.oras.Tags(ctx, "", func(tags []string) error {
		out = append(out, tags...)
		return nil
	})
	if err != nil {
		err = mapError(err)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return out, nil
}

// Catalog lists the repositories of the registry at host (all pages of
// /v2/_catalog). Registries that keep their catalog private refuse it.
func (c *Client) Catalog(ctx context.Context, host string) ([]string, error) {
	reg, err := orasremote.NewRegistry(host)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	reg.Client = c.auth
	reg.PlainHTTP = c.opts.PlainHTTP || c.plainLoopback(ctx, host)
	ctx = auth.AppendScopes(ctx, "registry:catalog:*")
	var out []string
	err = reg.Repositories(ctx, "", func(repos []string) error {
		out = append(out, repos...)
		return nil
	})
	return out, mapError(err)
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// dockerHubAPIHost is where the docker.io registry API is actually served.
const dockerHubAPIHost = "registry-1.docker.io"

// Target is where a canonical reference is actually fetched from after
// mirror rewriting.
type Target struct {
	// Canonical is the upstream reference as the user and the lock name it.
	Canonical string
	// Reference is the parsed reference actually contacted (registry host may
	// be a mirror or registry-1.docker.io).
	Reference registry.Reference
	// PlainHTTP is true when the registry is spoken to over http://.
	PlainHTTP bool
	// Mirrored is true when a mirror rule applied.
	Mirrored bool
}

// String renders the contacted location for messages.
func (t Target) String() string {
	scheme := "https://"
	if t.PlainHTTP {
		scheme = "http://"
	}
	return scheme + t.Reference.String()
}

// Locate applies the mirrors to a canonical image reference (repository, tag
// and/or digest) and returns where to contact. For a loopback registry it
// may ask, once per host, whether it speaks plain HTTP (a few seconds at
// most, bounded by ctx).
func (c *Client) Locate(ctx context.Context, canonical string) (Target, error) {
	rewritten, mirrored := c.opts.Mirrors.Rewrite(canonical)
	plain, explicit := c.opts.PlainHTTP, false
	switch {
	case strings.HasPrefix(rewritten, "http://"):
		plain, explicit, rewritten = true, true, strings.TrimPrefix(rewritten, "http://")
	case strings.HasPrefix(rewritten, "https://"):
		plain, explicit, rewritten = false, true, strings.TrimPrefix(rewritten, "https://")
	}
	ref, err := registry.ParseReference(rewritten)
	if err != nil {
		if mirrored {
			return Target{}, fmt.Errorf("%s: mirrored to %q: %w (check the mirror's replacement)", canonical, rewritten, err)
		}
		return Target{}, fmt.Errorf("%s: %w", canonical, err)
	}
	if ref.Registry == "docker.io" {
		ref.Registry = dockerHubAPIHost
	}
	if !plain && !explicit {
		plain = c.plainLoopback(ctx, ref.Registry)
	}
	return Target{Canonical: canonical, Reference: ref, PlainHTTP: plain, Mirrored: mirrored}, nil
}

// Repository returns the repository of a canonical reference, after mirror
// rewriting, and where it is contacted.
func (c *Client) Repository(ctx context.Context, canonical string) (*Repository, Target, error) {
	t, err := c.Locate(ctx, canonical)
	if err != nil {
		return nil, Target{}, err
	}
	return c.newRepository(t.Reference, t.PlainHTTP), t, nil
}

// RepositoryAt returns the repository at an explicit registry host
// (HOST[:PORT]) and path, with no mirror rewriting: a push target. It
// speaks plain HTTP with Options.PlainHTTP or to a loopback registry that
// answers plain HTTP.
func (c *Client) RepositoryAt(ctx context.Context, host, path string) (*Repository, error) {
	ref := registry.Reference{Registry: host, Repository: path}
	if err := ref.ValidateRepository(); err != nil {
		return nil, fmt.Errorf("repository %s/%s: %w", host, path, err)
	}
	if err := ref.ValidateRegistry(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	plain := c.opts.PlainHTTP || c.plainLoopback(ctx, host)
	return c.newRepository(ref, plain), nil
}

func (c *Client) newRepository(ref registry.Reference, plain bool) *Repository {
	scheme := "https"
	if plain {
		scheme = "http"
	}
	return &Repository{
		oras: &orasremote.Repository{Client: c.auth, Reference: ref, PlainHTTP: plain},
		base: &url.URL{Scheme: scheme, Host: ref.Host(), Path: "/v2/" + ref.Repository + "/"},
		log:  c.log,
	}
}

// Repository is one repository of a registry. It is an oras-go
// ReadOnlyTarget (Fetch, Exists, Resolve) and speaks the push side of the
// distribution API (see the package documentation). It is safe for
// concurrent use.
type Repository struct {
	oras *orasremote.Repository
	base *url.URL // scheme://host/v2/<path>/
	log  *slog.Logger
}

// Path is the repository's path below the registry, e.g. mesh/istio/pilot.
func (r *Repository) Path() string { return r.oras.Reference.Repository }

// PlainHTTP reports whether the registry is spoken to over http://.
func (r *Repository) PlainHTTP() bool { return r.oras.PlainHTTP }

// Fetch reads a blob or manifest by descriptor. The caller closes it and
// verifies what it reads (content.ReadAll, FetchManifest).
func (r *Repository) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := r.oras.Fetch(ctx, desc)
	return rc, mapError(err)
}

// Exists reports whether the repository has a blob or manifest (HEAD),
// chosen by desc's media type.
func (r *Repository) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	ok, err := r.oras.Exists(ctx, desc)
	return ok, mapError(err)
}

// Resolve returns the descriptor of a tag or digest (HEAD, or GET when the
// registry does not answer HEAD with a digest).
func (r *Repository) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	desc, err := r.oras.Resolve(ctx, reference)
	return desc, mapError(err)
}

// BlobExists reports whether the repository has blob desc (HEAD
// /v2/<path>/blobs/<digest>). A stalled request is tried once more.
func (r *Repository) BlobExists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	var ok bool
	err := r.retryStalled(ctx, func() error {
		var err error
		ok, err = r.oras.Blobs().Exists(ctx, desc)
		return mapError(err)
	})
	return ok, err
}

// stallRetries is how often an idempotent request that stalled is tried
// again: one stall may be a dropped connection, two in a row mean the
// registry or the path to it is stuck.
const stallRetries = 1

// retryStalled runs fn again after a stall, at most stallRetries times.
func (r *Repository) retryStalled(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, ErrStalled) || ctx.Err() != nil || attempt >= stallRetries {
			return err
		}
		r.log.Warn("the registry stalled; trying again", "registry", r.base.Host, "error", err)
	}
}

// scoped asks the token service for pull and push on this repository (and
// pull on from, for a mount).
func (r *Repository) scoped(ctx context.Context, from string) context.Context {
	ctx = auth.AppendRepositoryScope(ctx, r.oras.Reference, auth.ActionPull, auth.ActionPush)
	if from != "" {
		ref := r.oras.Reference
		ref.Repository = from
		ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	}
	return ctx
}

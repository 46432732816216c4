package client

import (
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
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
	// Mirrored is true when a --mirror rule applied.
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
// and/or digest) and returns where to contact.
func (c *Client) Locate(canonical string) (Target, error) {
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
			return Target{}, fmt.Errorf("%s: mirrored to %q: %w (check the --mirror replacement)", canonical, rewritten, err)
		}
		return Target{}, fmt.Errorf("%s: %w", canonical, err)
	}
	if ref.Registry == "docker.io" {
		ref.Registry = dockerHubAPIHost
	}
	if !plain && !explicit {
		plain = c.plainLoopback(ref.Registry)
	}
	return Target{Canonical: canonical, Reference: ref, PlainHTTP: plain, Mirrored: mirrored}, nil
}

// Repository returns an oras-go repository client for the repository of a
// canonical reference, after mirror rewriting.
func (c *Client) Repository(canonical string) (*remote.Repository, Target, error) {
	t, err := c.Locate(canonical)
	if err != nil {
		return nil, Target{}, err
	}
	repo := &remote.Repository{
		Client:    c.auth,
		Reference: t.Reference,
		PlainHTTP: t.PlainHTTP,
	}
	return repo, t, nil
}

// RepositoryAt returns a repository client for an explicit registry host and
// repository path, with no mirror rewriting (the load target).
func (c *Client) RepositoryAt(host, path string, plainHTTP bool) (*remote.Repository, error) {
	ref := registry.Reference{Registry: host, Repository: path}
	if err := ref.ValidateRepository(); err != nil {
		return nil, fmt.Errorf("repository %s/%s: %w", host, path, err)
	}
	if err := ref.ValidateRegistry(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	plain := plainHTTP || c.opts.PlainHTTP || c.plainLoopback(host)
	return &remote.Repository{Client: c.auth, Reference: ref, PlainHTTP: plain}, nil
}

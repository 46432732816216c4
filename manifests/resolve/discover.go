package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
	"github.com/lattice-mesh/meshpack/remote"
)

// ErrDiscovery is matched by errors about finding the newest published
// patch of an Istio minor upstream (Options.Discover, DiscoverPatch).
var ErrDiscovery = errors.New("cannot find the newest published Istio patch")

// DiscoveryError says why the newest published patch of a minor could not
// be found, and what the catalog alone would choose instead.
type DiscoveryError struct {
	// Minor is the Istio minor, e.g. "1.30".
	Minor string
	// CatalogLatest is the catalog's newest patch of the minor, or "".
	CatalogLatest string
	// EndOfLife, when set, says the minor is past its end of life (its
	// charts or images may no longer be published).
	EndOfLife string
	// Err is what failed: an unreachable index or registry, or
	// manifests.ErrNoPublishedPatch.
	Err error
}

// Error names the minor, what failed, and the catalog's choice.
func (e *DiscoveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "istio %s: %v: %v", e.Minor, ErrDiscovery, e.Err)
	if e.EndOfLife != "" {
		fmt.Fprintf(&b, " (%s)", e.EndOfLife)
	}
	if e.CatalogLatest != "" {
		fmt.Fprintf(&b, "; the catalog alone (Options.Discover off) would choose %s", e.CatalogLatest)
	}
	return b.String()
}

// Unwrap makes errors.Is work for ErrDiscovery and the cause.
func (e *DiscoveryError) Unwrap() []error { return []error{ErrDiscovery, e.Err} }

// DiscoverOptions selects what a patch must have to count as published.
type DiscoverOptions struct {
	// Charts are the chart names that must be in the index; empty means
	// base and istiod (what every profile installs).
	Charts []string
	// Images selects the images whose tags must exist, as for
	// manifests.Catalog.ExpectedImages; the zero value is the sidecar
	// profile's (pilot and proxyv2, plain tags).
	Images manifests.ImageOptions
}

// DiscoverPatch finds the newest patch of an Istio minor that upstream
// publishes completely: read from the minor's Helm chart index (the
// catalog's repositories in order, the first that answers) and the tag
// lists of the image repositories, all through c's mirrors. It applies no
// compatibility rule; it only chooses. Failures are *DiscoveryError.
func DiscoverPatch(ctx context.Context, cat *manifests.Catalog, c *remote.Client, minor string, opts DiscoverOptions) (string, manifests.IstioChoice, error) {
	return discoverPatch(ctx, cat, c, indexCache{}, minor, opts)
}

func discoverPatch(ctx context.Context, cat *manifests.Catalog, c *remote.Client, cache indexCache, minor string, opts DiscoverOptions) (string, manifests.IstioChoice, error) {
	rel := cat.Release(minor)
	if rel == nil {
		return "", manifests.IstioChoice{}, fmt.Errorf("istio %s: %w", minor, manifests.ErrUnknownVersion)
	}
	fail := func(err error) (string, manifests.IstioChoice, error) {
		if ctx.Err() != nil {
			return "", manifests.IstioChoice{}, ctx.Err()
		}
		de := &DiscoveryError{Minor: minor, CatalogLatest: rel.Latest, Err: err}
		if rel.EndOfLife(time.Now()) {
			de.EndOfLife = rel.EndOfLifeText()
		}
		return "", manifests.IstioChoice{}, de
	}
	charts := opts.Charts
	if len(charts) == 0 {
		charts = []string{render.ChartBase, render.ChartIstiod}
	}
	idx, indexURL, err := firstIndex(ctx, c, cache, rel)
	if err != nil {
		return fail(err)
	}
	ev := manifests.PatchEvidence{ChartIndex: indexURL, Charts: map[string][]string{}, Tags: map[string][]string{}}
	for _, name := range charts {
		ev.Charts[name] = []string{}
		for _, e := range idx.Entries[name] {
			ev.Charts[name] = append(ev.Charts[name], e.Version)
		}
	}
	repos, err := cat.ImageRepositories(minor, opts.Images)
	if err != nil {
		return "", manifests.IstioChoice{}, err
	}
	for _, repo := range repos {
		tags, err := listTags(ctx, c, repo)
		if err != nil {
			return fail(err)
		}
		ev.Tags[repo] = tags
	}
	v, choice, err := cat.ChooseNewestPatch(minor, ev, opts.Images)
	if err != nil {
		return fail(err)
	}
	return v, choice, nil
}

// firstIndex reads the index of the minor's first chart repository that
// answers, and returns it with its canonical URL.
func firstIndex(ctx context.Context, c *remote.Client, cache indexCache, rel *manifests.IstioRelease) (*repoIndex, string, error) {
	var errs []error
	for _, repo := range rel.Charts.Repos {
		u := strings.TrimRight(repo.URL, "/")
		idx, err := cache.get(ctx, c, u)
		if err == nil {
			return idx, u + "/index.yaml", nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		errs = append(errs, err)
	}
	return nil, "", fmt.Errorf("no chart index answered: %w", errList(errs))
}

// errList joins errors on one line ("a; b"), each still matched by errors.Is.
type errList []error

func (e errList) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e errList) Unwrap() []error { return e }

// listTags lists the tags of a canonical repository ("docker.io/istio/pilot").
func listTags(ctx context.Context, c *remote.Client, repo string) ([]string, error) {
	r, t, err := c.Repository(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("image tags of %s: %w", repo, err)
	}
	tags, err := r.Tags(ctx)
	if err != nil {
		return nil, fmt.Errorf("image tags of %s (%s): %w", repo, t, err)
	}
	return tags, nil
}

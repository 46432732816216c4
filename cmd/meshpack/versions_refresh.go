package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

// upstreamPatch is what `versions --refresh` found upstream for one minor.
type upstreamPatch struct {
	// Newest is the newest patch published completely, e.g. "1.30.4".
	Newest string `json:"newest,omitempty"`
	// ResolvedFrom records how it was found (chart index, image tags,
	// skipped patches), as a lock's set.resolvedFrom does.
	ResolvedFrom *manifests.IstioChoice `json:"resolvedFrom,omitempty"`
	// Error says why upstream could not tell, or why the minor was not asked.
	Error string `json:"error,omitempty"`
}

// column is the UPSTREAM cell of the versions table.
func (u *upstreamPatch) column() string {
	switch {
	case u == nil:
		return "-"
	case u.Newest != "":
		return u.Newest
	case u.Error == notRefreshedEOL:
		return "-"
	}
	return "?"
}

// notRefreshedEOL is the Error of a minor past its end of life.
const notRefreshedEOL = "end of life: not refreshed"

// refreshEntries asks upstream for the newest published patch of each
// supported minor. Minors past their end of life get no new patches and
// are not asked. It fails only when no minor could be refreshed.
func refreshEntries(ctx context.Context, s streams, g *globalFlags, net *netFlags, cat *manifests.Catalog, entries []versionEntry) error {
	mirrors, err := net.parsedMirrors()
	if err != nil {
		return err
	}
	log := g.logger(s)
	c, err := net.client(s.in, mirrors, log)
	if err != nil {
		return err
	}
	var errs []error
	asked := 0
	for i := range entries {
		e := &entries[i]
		if e.Status == manifests.StatusEOL {
			e.Upstream = &upstreamPatch{Error: notRefreshedEOL}
			continue
		}
		asked++
		v, choice, err := resolve.DiscoverPatch(ctx, cat, c, e.Istio, resolve.DiscoverOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.Upstream = &upstreamPatch{Error: err.Error()}
			errs = append(errs, err)
			fmt.Fprintf(s.err, "WARNING: istio %s: not refreshed: %v\n", e.Istio, err)
			continue
		}
		e.Upstream = &upstreamPatch{Newest: v, ResolvedFrom: &choice}
	}
	if asked > 0 && len(errs) == asked {
		return fmt.Errorf("versions --refresh: no supported minor could be refreshed (drop --refresh to list the catalog alone, or point --mirror at a reachable copy): %w", errors.Join(errs...))
	}
	return nil
}

package mirror

import (
	"context"

	"github.com/lattice-mesh/meshpack/bundle"
)

// PlanStats plans a load of r into target with no network access and
// counts what the plan holds, so tests can measure the planner alone.
func PlanStats(ctx context.Context, r *bundle.Reader, target string) (blobs, placements, artifacts int, err error) {
	l, err := newLoader(r, target, LoadOptions{AllowUnsigned: true})
	if err != nil {
		return 0, 0, 0, err
	}
	bom, err := r.BOM()
	if err != nil {
		return 0, 0, 0, err
	}
	p, err := l.plan(ctx, bom)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, b := range p.blobs {
		placements += len(b.repos)
	}
	for _, a := range p.artifacts {
		placements += len(a.own)
	}
	return len(p.blobs), placements, len(p.artifacts), nil
}

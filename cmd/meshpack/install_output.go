package main

import (
	"fmt"
	"strings"

	"github.com/lattice-mesh/meshpack/cluster"
	"github.com/lattice-mesh/meshpack/manifests/install"
)

// stepLogger prints one line per step to stderr (none with -q).
func stepLogger(s streams, g *globalFlags) func(string, ...any) {
	return func(format string, args ...any) {
		if !g.quiet {
			fmt.Fprintln(s.err, sanitize(fmt.Sprintf(format, args...)))
		}
	}
}

// printInstall prints an install's preflight and steps for people.
func printInstall(s streams, plan *install.Plan, res *cluster.Result, preflightOnly bool) {
	pf := res.Preflight
	w := s.out
	fmt.Fprintf(w, "Kubernetes %s (Istio %s supports %s)\n", sanitize(pf.Server), plan.Istio, pf.Kubernetes)
	fmt.Fprintf(w, "registry: %d of %d pinned images present\n", pf.Checked-len(pf.Missing), pf.Checked)
	for _, m := range pf.Missing {
		fmt.Fprintf(w, "  missing %s\n", m)
	}
	for _, r := range pf.Releases {
		what := r.Action + " chart " + r.Target
		switch r.Action {
		case cluster.ActionUpgrade, cluster.ActionDowngrade:
			what = r.Action + " chart " + sanitize(r.Deployed) + " -> " + r.Target
		case cluster.ActionSame:
			what = "re-apply chart " + r.Target
		case cluster.ActionRepair:
			what = "install chart " + r.Target + " again (last revision " + sanitize(r.Status) + ")"
		}
		fmt.Fprintf(w, "release %-22s %-13s %s\n", r.Release, r.Namespace, what)
	}
	for _, n := range pf.CRDs {
		fmt.Fprintf(w, "note: %s\n", sanitize(n))
	}
	if len(pf.Problems) > 0 {
		return
	}
	if preflightOnly {
		fmt.Fprintln(w, "preflight passed; nothing was changed")
		return
	}
	var done []string
	for _, st := range res.Steps {
		done = append(done, st.Step)
	}
	if len(res.Steps) == len(plan.Steps) {
		fmt.Fprintf(w, "installed Istio %s (%s) from bundle %s: %s\n", plan.Istio, plan.Profile, plan.BundleID, strings.Join(done, ", "))
	}
	if res.Phase != nil {
		fmt.Fprintf(w, "phase %s: %d resources applied, %d deleted\n", res.Phase.Phase, len(res.Phase.Applied), len(res.Phase.Deleted))
	}
}

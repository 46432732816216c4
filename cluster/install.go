package cluster

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/release"

	"github.com/lattice-mesh/meshpack/manifests/install"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// Options say how to install a plan into a cluster.
type Options struct {
	Kube Kube
	// Registry checks, in the preflight, that every pinned digest is in
	// the internal registry; nil skips that check.
	Registry Registry
	// Wait waits after each step until its workloads are rolled out (and
	// always until the CRDs are Established); Timeout bounds each wait
	// (default 5m).
	Wait    bool
	Timeout time.Duration
	// Force allows a downgrade, and a phase whose preflight found
	// workloads at risk.
	Force bool
	// PreflightOnly runs the preflight and changes nothing.
	PreflightOnly bool
	// Canary installs istiod as a new revision beside the running one
	// (release istiod-REV, REV from the Istio version) and upgrades the
	// other charts in place; Promote, Rollback and Finish continue it.
	Canary bool
	// Phase is the adoption phase to set after the charts; empty keeps the
	// recorded one, or observability on a first install.
	Phase string
	// Log receives one line per step; nil discards.
	Log func(format string, args ...any)
}

// StepResult is what one step did.
type StepResult struct {
	Step      string `json:"step"`
	Release   string `json:"release,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Action is install, upgrade, same (re-applied), repair, or apply (CRDs).
	Action   string `json:"action"`
	Revision int    `json:"revision,omitempty"`
	Chart    string `json:"chart,omitempty"`
	// Manifest is what the step applied (not in JSON output).
	Manifest []byte   `json:"-"`
	CRDs     []string `json:"crds,omitempty"`
}

// Result is an install: its preflight and each step in order.
type Result struct {
	Preflight *Preflight   `json:"preflight"`
	Steps     []StepResult `json:"steps,omitempty"`
	Phase     *PhaseResult `json:"phase,omitempty"`
}

// Install runs the preflight and then each step of p in order: the Gateway
// API file server-side, then every chart as a Helm release (installed, or
// upgraded in place when a release of that name exists), waiting for the
// CRDs to be Established and, with Options.Wait, for each step's workloads
// to roll out before the next step starts. Re-running after an interruption
// continues: existing releases are upgraded or repaired. At the end it
// records what was installed (ConfigMap meshpack-install in the control
// plane's namespace), which audit and uninstall read.
func Install(ctx context.Context, p *install.Plan, opts Options) (*Result, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	c, err := opts.Kube.open()
	if err != nil {
		return nil, err
	}
	old, hasOld, err := readRecord(ctx, c, p.Namespace)
	if err != nil {
		return nil, err
	}
	base := p
	if p, err = revisionPlan(p, old, hasOld, opts.Canary); err != nil {
		return nil, err
	}
	pf, err := preflight(ctx, c, p, opts.Registry, opts.Force)
	res := &Result{Preflight: pf}
	if err != nil || opts.PreflightOnly {
		return res, err
	}
	for _, n := range pf.CRDs {
		logf("note: %s", n)
	}
	for _, s := range p.Steps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if s.Chart == nil {
			names, err := applyFile(ctx, c, s.Manifest)
			if err != nil {
				return res, err
			}
			if err := waitEstablished(ctx, c, names, timeout); err != nil {
				return res, err
			}
			res.Steps = append(res.Steps, StepResult{Step: s.Name, Action: "apply", CRDs: names, Manifest: s.Manifest})
			logf("%s: %d CRDs applied and established", s.Name, len(names))
			continue
		}
		sr, err := runChart(ctx, c, p, s, pf.upgrades[s.Release], timeout)
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, sr)
		logf("%s: release %s in %s %s (revision %d, chart %s)", s.Name, s.Release, s.Namespace, pastTense(sr.Action), sr.Revision, sr.Chart)
		if opts.Wait {
			ws, err := workloadsOf(sr.Manifest, s.Namespace)
			if err != nil {
				return res, err
			}
			if err := waitRolledOut(ctx, c, ws, timeout); err != nil {
				return res, fmt.Errorf("%s: %w", s.Name, err)
			}
			if len(ws) > 0 {
				logf("%s: %d workloads rolled out", s.Name, len(ws))
			}
		}
	}
	if err := writeRecord(ctx, c, p, old); err != nil {
		return res, err
	}
	if opts.Canary {
		if err := recordCanary(ctx, c, p, base, old); err != nil {
			return res, err
		}
	}
	phase := opts.Phase
	if phase == "" {
		phase = old.Phase // the record kept it
	}
	if phase == "" {
		phase = PhaseObservability
	}
	if res.Phase, err = applyPhase(ctx, c, PhaseOptions{Namespace: p.Namespace, Phase: phase, Force: opts.Force}, logf); err != nil {
		return res, err
	}
	return res, nil
}

// runChart installs or upgrades one chart step, as the preflight found it.
func runChart(ctx context.Context, c *conn, p *install.Plan, s install.Step, rc ReleaseCheck, timeout time.Duration) (StepResult, error) {
	sr := StepResult{Step: s.Name, Release: s.Release, Namespace: s.Namespace, Action: rc.Action}
	cfg, err := c.helmConfig(s.Namespace)
	if err != nil {
		return sr, err
	}
	h := install.Helm{Config: cfg, Timeout: timeout}
	switch rc.Action {
	case ActionUpgrade, ActionSame, ActionDowngrade:
		h.Upgrade = true
	case ActionRepair:
		// Only failed or interrupted revisions: mark pending ones failed
		// (an interrupted run leaves pending-install) and install again.
		hist, _ := cfg.Releases.History(s.Release)
		for _, r := range hist {
			if r.Info.Status.IsPending() {
				r.SetStatus(release.StatusFailed, "interrupted; superseded by a new meshpack install")
				if err := cfg.Releases.Update(r); err != nil {
					return sr, fmt.Errorf("%s: marking interrupted revision %d of release %s failed: %w", s.Name, r.Version, s.Release, err)
				}
			}
		}
		h.Replace = true
	}
	rel, err := p.RunStep(ctx, h, s)
	if err != nil {
		return sr, err
	}
	sr.Revision, sr.Chart, sr.Manifest = rel.Version, rel.Chart.Metadata.Version, install.ReleaseManifest(rel)
	return sr, nil
}

func pastTense(action string) string {
	switch action {
	case ActionInstall:
		return "installed"
	case ActionUpgrade:
		return "upgraded"
	case ActionDowngrade:
		return "downgraded"
	case ActionRepair:
		return "installed again"
	}
	return "re-applied"
}

// revisionPlan adapts p to the revisions in the cluster: a canary installs
// the new istiod as its own revision; an in-place upgrade of a revisioned
// control plane (after a finished canary) keeps its revision and tags.
func revisionPlan(p *install.Plan, old Record, hasOld, canary bool) (*install.Plan, error) {
	switch {
	case hasOld && old.Canary != "":
		return nil, fmt.Errorf("a canary upgrade to revision %s is in progress: promote and finish it, or roll it back and finish, before installing again", old.Canary)
	case canary && !hasOld:
		return nil, fmt.Errorf("a canary upgrade needs a running control plane installed by meshpack (no install record in %s)", p.Namespace)
	case canary && Revision(p.Istio) == old.Revision:
		return nil, fmt.Errorf("revision %s is already in charge: a canary needs another Istio version", old.Revision)
	case canary:
		return canaryPlan(p, Revision(p.Istio)), nil
	case hasOld && old.Revision != "":
		cp := canaryPlan(p, old.Revision)
		for i, s := range cp.Steps {
			switch s.Name {
			case render.ChartIstiod:
				var tags []any
				for t, rev := range old.Tags {
					if rev == old.Revision {
						tags = append(tags, t)
					}
				}
				cp.Steps[i].Values["revisionTags"] = tags
			case render.ChartBase:
				if old.Tags[TagDefault] == old.Revision {
					cp.Steps[i].Values = maps.Clone(s.Values)
					cp.Steps[i].Values["defaultRevision"] = old.Revision
				}
			}
		}
		return cp, nil
	}
	return p, nil
}

// recordCanary records a canary: both revisions' images (so audit passes
// while both run), the old istiod release beside the new one, and the
// default tag on the old revision until promote.
func recordCanary(ctx context.Context, c *conn, p, base *install.Plan, old Record) error {
	oldRelease := p.Namespace + "/" + istiodRelease(old.Revision)
	var releases []string
	for _, s := range p.Steps {
		if s.Release == "" {
			continue
		}
		if s.Name == render.ChartIstiod {
			releases = append(releases, oldRelease)
		}
		releases = append(releases, s.Namespace+"/"+s.Release)
	}
	canaryImages := base.Pinned()
	images := append(append([]string{}, old.Images...), onlyIn(canaryImages, old.Images)...)
	tags := old.tagMap()
	if _, ok := tags[TagDefault]; !ok {
		tags[TagDefault] = old.Revision
	}
	return updateRecord(ctx, c, p.Namespace, map[string]string{
		"releases": strings.Join(releases, "\n"), "images": strings.Join(images, "\n"),
		"canary": Revision(p.Istio), "oldRevision": old.Revision, "revision": old.Revision,
		"oldImages": strings.Join(old.Images, "\n"), "canaryImages": strings.Join(canaryImages, "\n"), "tags": joinTags(tags),
	})
}

package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-mesh/meshpack/manifests/install"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// TagDefault is the revision tag of namespaces labelled
// istio-injection=enabled (and of the validation webhook).
const TagDefault = "default"

// Revision is the istiod revision name of an Istio version, as Istio's
// docs write it: 1.30.4 -> 1-30-4.
func Revision(version string) string { return strings.ReplaceAll(version, ".", "-") }

// istiodRelease is the Helm release of an istiod revision ("" is the
// revision-less control plane of a plain install).
func istiodRelease(rev string) string {
	if rev == "" {
		return "istiod"
	}
	return "istiod-" + rev
}

// CanaryPlan is p as upgrade in canary mode applies it over a
// revision-less control plane (what upgrade --canary renders).
func CanaryPlan(p *install.Plan) *install.Plan { return canaryPlan(p, Revision(p.Istio)) }

// canaryPlan is p with istiod installed as revision rev beside the running
// one (release istiod-REV) and, in ambient, ztunnel pointed at it; the
// other charts are upgraded in place, in Istio's documented order.
func canaryPlan(p *install.Plan, rev string) *install.Plan {
	cp := *p
	cp.Steps = make([]install.Step, len(p.Steps))
	for i, s := range p.Steps {
		switch s.Name {
		case render.ChartIstiod:
			s.Release = istiodRelease(rev)
			s.Values = maps.Clone(s.Values)
			s.Values["revision"] = rev
		case render.ChartZtunnel:
			s.Values = maps.Clone(s.Values)
			s.Values["revision"] = rev
		}
		cp.Steps[i] = s
	}
	return &cp
}

// CanaryOptions say which revision tag to move.
type CanaryOptions struct {
	Kube      Kube
	Namespace string
	// Tag is the revision tag to move (default "default").
	Tag string
	Log func(format string, args ...any)
}

// CanaryResult is what promote, rollback or finish did.
type CanaryResult struct {
	Old    string `json:"old"` // the revision being replaced ("" = revision-less)
	Canary string `json:"canary"`
	Tag    string `json:"tag,omitempty"`
	// Target is the revision the tag points at now.
	Target string `json:"target,omitempty"`
	// OldProxies are pods still running the old revision's proxy.
	OldProxies []string `json:"oldProxies"`
	Removed    []string `json:"removed,omitempty"`
}

// Promote points tag at the canary revision: enrolled namespaces get the
// new control plane's proxy when their pods restart. It lists the pods
// still on the old proxy.
func Promote(ctx context.Context, opts CanaryOptions) (*CanaryResult, error) {
	return moveTag(ctx, opts, true)
}

// Rollback points tag back at the old revision.
func Rollback(ctx context.Context, opts CanaryOptions) (*CanaryResult, error) {
	return moveTag(ctx, opts, false)
}

func moveTag(ctx context.Context, opts CanaryOptions, forward bool) (*CanaryResult, error) {
	c, rec, err := canaryState(ctx, &opts)
	if err != nil {
		return nil, err
	}
	res := &CanaryResult{Old: rec.OldRevision, Canary: rec.Canary, Tag: opts.Tag, OldProxies: []string{}}
	to, from := rec.Canary, rec.OldRevision
	if !forward {
		to, from = from, to
	}
	res.Target = to
	if opts.Tag == TagDefault {
		// The validation webhook's default revision (base chart).
		base := "default"
		if to != "" {
			base = to
		}
		if err := upgradeValues(ctx, c, opts.Namespace, "istio-base", map[string]any{"defaultRevision": base}); err != nil {
			return nil, err
		}
	}
	for _, rev := range []string{from, to} {
		vals, err := tagValues(c, opts.Namespace, rev, opts.Tag, rev == to)
		if err != nil {
			return nil, err
		}
		if err := upgradeValues(ctx, c, opts.Namespace, istiodRelease(rev), vals); err != nil {
			return nil, err
		}
	}
	tags := rec.tagMap()
	tags[opts.Tag] = to
	if err := updateRecord(ctx, c, opts.Namespace, map[string]string{"tags": joinTags(tags)}); err != nil {
		return nil, err
	}
	if res.OldProxies, err = podsOn(ctx, c, onlyIn(rec.OldImages, rec.CanaryImages)); err != nil {
		return nil, err
	}
	opts.Log("tag %s now points at revision %s", opts.Tag, revisionName(to))
	return res, nil
}

// Finish removes the old revision once the default tag points at the
// canary and no pod runs the old proxy; it refuses otherwise.
func Finish(ctx context.Context, opts CanaryOptions) (*CanaryResult, error) {
	c, rec, err := canaryState(ctx, &opts)
	if err != nil {
		return nil, err
	}
	res := &CanaryResult{Old: rec.OldRevision, Canary: rec.Canary, Target: rec.Canary}
	if rec.tagMap()[TagDefault] != rec.Canary {
		return res, fmt.Errorf("the default tag still points at revision %s: promote the canary %s first", revisionName(rec.OldRevision), rec.Canary)
	}
	if res.OldProxies, err = podsOn(ctx, c, onlyIn(rec.OldImages, rec.CanaryImages)); err != nil {
		return nil, err
	}
	if len(res.OldProxies) > 0 {
		return res, fmt.Errorf("%d pods still run the old revision's proxy; restart them first (they get the new one), nothing removed:\n  - %s", len(res.OldProxies), strings.Join(res.OldProxies, "\n  - "))
	}
	old := istiodRelease(rec.OldRevision)
	cfg, err := c.helmConfig(opts.Namespace)
	if err != nil {
		return nil, err
	}
	if _, err := action.NewUninstall(cfg).Run(old); err != nil {
		return res, fmt.Errorf("helm uninstall of the old revision's release %s: %w", old, err)
	}
	res.Removed = []string{opts.Namespace + "/" + old}
	var releases []string
	for _, r := range rec.Releases {
		if r != opts.Namespace+"/"+old {
			releases = append(releases, r)
		}
	}
	tags := rec.tagMap()
	for t, rev := range tags {
		if rev == rec.OldRevision {
			delete(tags, t)
		}
	}
	err = updateRecord(ctx, c, opts.Namespace, map[string]string{
		"releases": strings.Join(releases, "\n"), "images": strings.Join(rec.CanaryImages, "\n"),
		"revision": rec.Canary, "canary": "", "oldRevision": "", "oldImages": "", "canaryImages": "", "tags": joinTags(tags),
	})
	if err != nil {
		return res, err
	}
	opts.Log("revision %s removed; %s is the only control plane", revisionName(rec.OldRevision), rec.Canary)
	return res, nil
}

// canaryState connects and reads a record with a canary in progress.
func canaryState(ctx context.Context, opts *CanaryOptions) (*conn, Record, error) {
	if opts.Namespace == "" {
		opts.Namespace = install.DefaultNamespace
	}
	if opts.Tag == "" {
		opts.Tag = TagDefault
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	c, err := opts.Kube.open()
	if err != nil {
		return nil, Record{}, err
	}
	rec, found, err := readRecord(ctx, c, opts.Namespace)
	if err != nil {
		return nil, rec, err
	}
	if !found || rec.Canary == "" {
		return nil, rec, fmt.Errorf("no canary upgrade in progress in %s: start one with an upgrade of a newer bundle in canary mode", opts.Namespace)
	}
	return c, rec, nil
}

// tagValues are the values that give (or take) tag to an istiod revision.
// The revision-less control plane holds the default tag through its own
// injection webhook, switched off by global.operatorManageWebhooks.
func tagValues(c *conn, namespace, rev, tag string, give bool) (map[string]any, error) {
	cfg, err := c.helmConfig(namespace)
	if err != nil {
		return nil, err
	}
	rel, err := cfg.Releases.Last(istiodRelease(rev))
	if err != nil {
		return nil, fmt.Errorf("release %s in %s: %w", istiodRelease(rev), namespace, err)
	}
	if rev == "" && tag == TagDefault {
		return map[string]any{"global": map[string]any{"operatorManageWebhooks": !give}}, nil
	}
	var tags []string
	if t, ok := rel.Config["revisionTags"].([]any); ok {
		for _, x := range t {
			if s, ok := x.(string); ok && s != tag {
				tags = append(tags, s)
			}
		}
	}
	if give {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	out := make([]any, len(tags))
	for i, t := range tags {
		out[i] = t
	}
	return map[string]any{"revisionTags": out}, nil
}

// upgradeValues upgrades release with its own chart and values plus vals
// (helm upgrade --reuse-values --set …).
func upgradeValues(ctx context.Context, c *conn, namespace, name string, vals map[string]any) error {
	cfg, err := c.helmConfig(namespace)
	if err != nil {
		return err
	}
	rel, err := cfg.Releases.Last(name)
	if err != nil {
		return fmt.Errorf("release %s in %s: %w", name, namespace, err)
	}
	u := action.NewUpgrade(cfg)
	u.Namespace, u.ReuseValues, u.MaxHistory = namespace, true, 10
	if _, err := u.RunWithContext(ctx, name, rel.Chart, vals); err != nil {
		return fmt.Errorf("helm upgrade of release %s in %s: %w", name, namespace, err)
	}
	return nil
}

// podsOn lists pods (NAMESPACE/NAME) whose istio-proxy runs one of images.
func podsOn(ctx context.Context, c *conn, images []string) ([]string, error) {
	if len(images) == 0 {
		return []string{}, nil
	}
	want := map[string]bool{}
	for _, img := range images {
		want[install.DigestOnly(img)] = true
	}
	pods, err := c.typed.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	out := []string{}
	for _, p := range pods.Items {
		for _, ct := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			if isMeshContainer(ct.Name) && want[install.DigestOnly(ct.Image)] {
				out = append(out, p.Namespace+"/"+p.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// onlyIn returns the entries of a that are not in b.
func onlyIn(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func revisionName(rev string) string {
	if rev == "" {
		return "default (revision-less)"
	}
	return rev
}

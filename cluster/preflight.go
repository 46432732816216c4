package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// Registry answers whether the internal registry holds a manifest; the
// preflight asks it for every digest a plan pins.
type Registry interface {
	// HasManifest reports whether ref (HOST/REPO@sha256:…) exists.
	HasManifest(ctx context.Context, ref string) (bool, error)
}

// Actions of ReleaseCheck.Action.
const (
	ActionInstall   = "install"   // no release yet
	ActionSame      = "same"      // the same chart version is deployed (re-applied)
	ActionUpgrade   = "upgrade"   // an older chart version is deployed
	ActionDowngrade = "downgrade" // a newer chart version is deployed: refused without Force
	ActionRepair    = "repair"    // only failed or interrupted revisions: installed again
)

// ReleaseCheck is what the preflight found for one step's release.
type ReleaseCheck struct {
	Step      string `json:"step"`
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// Deployed is the chart version deployed now ("" when none); Status
	// the Helm status of the newest revision.
	Deployed string `json:"deployed,omitempty"`
	Status   string `json:"status,omitempty"`
	Target   string `json:"target"`
	Action   string `json:"action"`
}

// Preflight is what the checks before an install found.
type Preflight struct {
	// Server is the API server's version; Kubernetes the set's range.
	Server     string                  `json:"server"`
	Kubernetes string                  `json:"kubernetes"`
	Checked    int                     `json:"checkedDigests"`
	Missing    []string                `json:"missingDigests,omitempty"`
	Releases   []ReleaseCheck          `json:"releases"`
	CRDs       []string                `json:"crdNotes,omitempty"`
	Problems   []string                `json:"problems,omitempty"`
	upgrades   map[string]ReleaseCheck // by release name
}

// PreflightError is a preflight that found reasons not to install. Nothing
// in the cluster was changed.
type PreflightError struct{ Report *Preflight }

func (e *PreflightError) Error() string {
	return "preflight failed, nothing was changed:\n  - " + strings.Join(e.Report.Problems, "\n  - ")
}

// preflight checks, before anything changes: the server's version against
// the set's range, every pinned digest in the registry, the existing
// releases (a downgrade is refused unless force), and the Gateway API CRDs
// already there.
func preflight(ctx context.Context, c *conn, p *install.Plan, reg Registry, force bool) (*Preflight, error) {
	var err error
	r := &Preflight{Kubernetes: p.Kubernetes.Min + " - " + p.Kubernetes.Max, upgrades: map[string]ReleaseCheck{}}
	if r.Server, err = c.serverVersion(); err != nil {
		return nil, err
	}
	if msg := outsideRange(r.Server, p.Kubernetes.Min, p.Kubernetes.Max); msg != "" {
		r.Problems = append(r.Problems, fmt.Sprintf("Kubernetes %s of %s %s: Istio %s supports Kubernetes %s to %s", r.Server, c.rest.Host, msg, p.Istio, p.Kubernetes.Min, p.Kubernetes.Max))
	}
	if reg != nil {
		missing, err := missingDigests(ctx, reg, p.Pinned())
		if err != nil {
			return nil, err
		}
		r.Checked, r.Missing = len(p.Pinned()), missing
		for _, m := range missing {
			r.Problems = append(r.Problems, fmt.Sprintf("image %s is not in the registry: load the bundle first (meshpack bundle load) with the same registry and path mode", m))
		}
	}
	for _, s := range p.Steps {
		if s.Chart == nil {
			continue
		}
		rc, err := releaseCheck(c, s)
		if err != nil {
			return nil, err
		}
		r.Releases = append(r.Releases, rc)
		r.upgrades[rc.Release] = rc
		if rc.Action == ActionDowngrade && !force {
			r.Problems = append(r.Problems, fmt.Sprintf("release %s in %s runs chart %s, newer than this bundle's %s: a downgrade is refused without force", rc.Release, rc.Namespace, rc.Deployed, rc.Target))
		}
	}
	notes, err := crdNotes(ctx, c, p)
	if err != nil {
		return nil, err
	}
	r.CRDs = notes
	if len(r.Problems) > 0 {
		return r, &PreflightError{Report: r}
	}
	return r, nil
}

// outsideRange says how version lies outside min..max (minors, inclusive),
// or "" when it is inside or the range is unknown.
func outsideRange(version, min, max string) string {
	sv, err := semver.NewVersion(strings.TrimPrefix(version, "v"))
	if err != nil {
		return "cannot be read as a version"
	}
	minor := fmt.Sprintf("%d.%d", sv.Major(), sv.Minor())
	cmp := func(a, b string) int {
		va, ea := semver.NewVersion(a)
		vb, eb := semver.NewVersion(b)
		if ea != nil || eb != nil {
			return 0
		}
		return va.Compare(vb)
	}
	switch {
	case min != "" && cmp(minor, min) < 0:
		return "is older than the set supports"
	case max != "" && cmp(minor, max) > 0:
		return "is newer than the set supports"
	}
	return ""
}

// missingDigests asks the registry for every ref, four at a time, and
// returns those it lacks, sorted.
func missingDigests(ctx context.Context, reg Registry, refs []string) ([]string, error) {
	found := make([]bool, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, ref := range refs {
		g.Go(func() error {
			ok, err := reg.HasManifest(gctx, ref)
			if err != nil {
				return fmt.Errorf("preflight: checking %s in the registry: %w", ref, err)
			}
			found[i] = ok
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var missing []string
	for i, ok := range found {
		if !ok {
			missing = append(missing, refs[i])
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// releaseCheck reads the history of step s's release.
func releaseCheck(c *conn, s install.Step) (ReleaseCheck, error) {
	rc := ReleaseCheck{Step: s.Name, Release: s.Release, Namespace: s.Namespace, Target: s.Chart.Metadata.Version, Action: ActionInstall}
	cfg, err := c.helmConfig(s.Namespace)
	if err != nil {
		return rc, err
	}
	hist, err := cfg.Releases.History(s.Release)
	if err != nil || len(hist) == 0 {
		return rc, nil // no release of that name
	}
	sort.Slice(hist, func(i, j int) bool { return hist[i].Version < hist[j].Version })
	last := hist[len(hist)-1]
	rc.Status = last.Info.Status.String()
	var deployed *release.Release
	for _, h := range hist {
		if h.Info.Status == release.StatusDeployed {
			deployed = h
		}
	}
	if deployed == nil {
		rc.Action = ActionRepair
		return rc, nil
	}
	rc.Deployed = deployed.Chart.Metadata.Version
	dv, err1 := semver.NewVersion(rc.Deployed)
	tv, err2 := semver.NewVersion(rc.Target)
	switch {
	case err1 != nil || err2 != nil || dv.Equal(tv):
		rc.Action = ActionSame
	case tv.GreaterThan(dv):
		rc.Action = ActionUpgrade
	default:
		rc.Action = ActionDowngrade
	}
	return rc, nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdNotes reports Gateway API CRDs in the cluster of another bundle
// version or release channel than the plan's.
func crdNotes(ctx context.Context, c *conn, p *install.Plan) ([]string, error) {
	list, err := c.dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		var se *apierrors.StatusError
		if errors.As(err, &se) && apierrors.IsForbidden(err) {
			return []string{"cannot list CustomResourceDefinitions: " + se.Error()}, nil
		}
		return nil, fmt.Errorf("listing CRDs: %w", err)
	}
	var notes []string
	for _, crd := range list.Items {
		if !strings.HasSuffix(crd.GetName(), ".gateway.networking.k8s.io") {
			continue
		}
		a := crd.GetAnnotations()
		ver, ch := a["gateway.networking.k8s.io/bundle-version"], a["gateway.networking.k8s.io/channel"]
		if p.GatewayAPI != "" && ver != "" && ver != p.GatewayAPI || p.GatewayAPIChannel != "" && ch != "" && ch != p.GatewayAPIChannel {
			notes = append(notes, fmt.Sprintf("CRD %s is Gateway API %s (%s channel); this bundle applies %s (%s channel)", crd.GetName(), ver, ch, p.GatewayAPI, p.GatewayAPIChannel))
		}
	}
	return notes, nil
}

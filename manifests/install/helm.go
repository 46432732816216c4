package install

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"

	"github.com/lattice-mesh/meshpack/manifests/render"
)

// Helm is how a step reaches Helm: the configuration of a real cluster, or
// nil to render only (Helm's client-only dry run, as `helm template`).
// Render and an install both go through RunStep, so what Render writes is
// what an install applies.
type Helm struct {
	// Config is the Helm action configuration of the target cluster; nil
	// renders offline for Plan.KubeVersion.
	Config *action.Configuration
	// Upgrade upgrades the step's existing release instead of installing.
	Upgrade bool
	// Replace installs over a release whose revisions all failed.
	Replace bool
	// Timeout bounds Helm's own operations (hooks); the wait for rollout
	// is the caller's.
	Timeout time.Duration
}

// RunStep installs (or upgrades, or renders) chart step s with its pinned
// values and returns the release. Every rendered object is checked before
// Helm applies anything: an image (or an image value in a ConfigMap) not
// pinned by a bundle digest in the plan's registry fails the step.
func (p *Plan) RunStep(ctx context.Context, h Helm, s Step) (*release.Release, error) {
	if s.Chart == nil {
		return nil, fmt.Errorf("step %s is not a chart", s.Name)
	}
	check := &pinCheck{plan: p, step: s.Name}
	if s.Name == render.ChartGateway {
		for _, o := range p.Steps {
			if o.Name == render.ChartIstiod {
				check.auto = proxyImage(o.Values)
			}
		}
		if check.auto == "" {
			return nil, fmt.Errorf("%s: istiod's values pin no global.proxy.image to replace the chart's \"image: auto\"", s.Name)
		}
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if h.Upgrade {
		if h.Config == nil {
			return nil, fmt.Errorf("step %s: an upgrade needs a cluster", s.Name)
		}
		u := action.NewUpgrade(h.Config)
		u.Namespace = s.Namespace
		u.PostRenderer = check
		u.Timeout = timeout
		u.MaxHistory = 10
		rel, err := u.RunWithContext(ctx, s.Release, s.Chart, s.Values)
		if err != nil {
			return nil, fmt.Errorf("%s: helm upgrade of release %s in %s: %w", s.Name, s.Release, s.Namespace, err)
		}
		return rel, nil
	}
	cfg := h.Config
	if cfg == nil {
		cfg = &action.Configuration{Log: func(string, ...any) {}}
	}
	in := action.NewInstall(cfg)
	if h.Config == nil {
		kv, err := render.KubeVersion(p.KubeVersion)
		if err != nil {
			return nil, err
		}
		in.ClientOnly, in.DryRun, in.IncludeCRDs, in.KubeVersion = true, true, true, kv
	}
	in.ReleaseName, in.Namespace, in.CreateNamespace = s.Release, s.Namespace, true
	in.PostRenderer = check
	in.Timeout, in.Replace = timeout, h.Replace
	rel, err := in.RunWithContext(ctx, s.Chart, s.Values)
	if err != nil {
		return nil, fmt.Errorf("%s: helm install of release %s in %s: %w", s.Name, s.Release, s.Namespace, err)
	}
	return rel, nil
}

// ReleaseManifest is what a release applied: its manifest, then its hooks
// (Istio's and Kiali's charts have none today; they are kept if one comes).
func ReleaseManifest(rel *release.Release) []byte {
	var buf bytes.Buffer
	buf.WriteString(strings.TrimSpace(rel.Manifest))
	buf.WriteString("\n")
	for _, h := range rel.Hooks {
		fmt.Fprintf(&buf, "---\n# Source: %s\n%s\n", h.Path, strings.TrimSpace(h.Manifest))
	}
	return buf.Bytes()
}

// pinCheck is the post-renderer every step runs through: it checks every
// image of the rendered manifests and passes them on unchanged — except for
// the gateway chart's "image: auto", which it replaces with the pinned
// proxy. Istio's injector would put the same image there when the pod is
// created; writing it into the Deployment pins the gateway even if the
// injector's values change, and lets audit see it.
type pinCheck struct {
	plan *Plan
	step string
	auto string // the image replacing "image: auto" (gateway step)
}

func (c *pinCheck) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	text := rendered.String()
	if c.auto != "" {
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) == "image: auto" {
				lines[i] = strings.Replace(l, "auto", c.auto, 1)
			}
		}
		text = strings.Join(lines, "\n")
	}
	objs, err := render.ParseObjects(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.step, err)
	}
	for _, o := range objs {
		if err := c.plan.checkPinned(c.step, o); err != nil {
			return nil, err
		}
	}
	return bytes.NewBufferString(text), nil
}

// proxyImage is global.proxy.image of a step's values.
func proxyImage(vals map[string]any) string {
	g, _ := vals["global"].(map[string]any)
	p, _ := g["proxy"].(map[string]any)
	s, _ := p["image"].(string)
	return s
}

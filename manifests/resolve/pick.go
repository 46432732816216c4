package resolve

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// setPlan is what pickSet decided beyond the ResolvedSet.
type setPlan struct {
	istio   manifests.IstioResolution
	kiali   *manifests.KialiResolution
	gateway *manifests.GatewayAPIResolution
}

// pickSet chooses exact versions and checks compatibility. The minor's
// catalog rules are checked before anything is asked of upstream; only
// then, with Options.Discover and a bare minor, is the newest published
// patch looked up.
func (r *resolver) pickSet(ctx context.Context, s *manifests.Spec) (setPlan, error) {
	var plan setPlan
	set := &r.lock.Set
	set.ClusterKubernetes = s.Kubernetes.Version
	discover := false
	if s.HasIstio() {
		ir, choice, err := r.pickIstio(s.Istio.Version)
		if err != nil {
			return plan, err
		}
		plan.istio, discover = ir, choice == nil
		set.ResolvedFrom = choice
		set.Istio, set.Profile, set.Variants = ir.Version, s.Istio.Profile, s.Variants()
		set.Kubernetes = ir.Release.Kubernetes
	}
	if s.Kiali.Enabled {
		kr, err := r.cat.KialiFor(set.Istio, s.Kiali.Version)
		if err != nil {
			return plan, err
		}
		plan.kiali = &kr
		r.note(kr.Notes...)
		set.Kiali = kr.Version
	}
	if s.GatewayAPIEnabled() {
		gr, err := r.cat.GatewayAPIFor(set.Istio, s.GatewayAPI.Version, s.GatewayAPI.Channel)
		if err != nil {
			return plan, err
		}
		plan.gateway = &gr
		r.note(gr.Notes...)
		set.GatewayAPI, set.GatewayAPIChannel = gr.Version, gr.Channel
	}
	if v := r.cat.CheckCompatibility(*set); len(v) > 0 {
		if !r.opts.AllowUnsupported {
			ie := &IncompatibleError{Violations: v}
			if rel := plan.istio.Release; rel != nil && rel.EndOfLife(time.Now()) {
				ie.EndOfLife = rel.EndOfLifeText()
			}
			return plan, ie
		}
		set.Unsupported = true
		for _, x := range v {
			r.log.Warn("unsupported version set explicitly allowed (Options.AllowUnsupported)", "rule", x.Rule, "detail", x.Message)
			r.note("unsupported (explicitly allowed): " + x.Message)
		}
	}
	r.narrowKubernetes(set)
	if discover {
		return plan, r.discover(ctx, s, &plan)
	}
	return plan, nil
}

// pickIstio looks the request up in the catalog. It returns the record of
// the choice, or nil when a bare minor is left to discovery (then
// IstioResolution.Version is the minor until discover sets the patch).
func (r *resolver) pickIstio(version string) (manifests.IstioResolution, *manifests.IstioChoice, error) {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	minor, bare := minorOf(v), strings.Count(v, ".") == 1
	provisional := false
	if r.cat.Release(minor) == nil {
		if !r.opts.AllowUnsupported {
			_, err := r.cat.ResolveIstio(v) // the catalog's unknown-minor error
			return manifests.IstioResolution{}, nil, fmt.Errorf("%w; Options.AllowUnsupported resolves it with the rules of the nearest known minor", err)
		}
		cat, note, err := r.cat.ProvisionalMinor(minor)
		if err != nil {
			return manifests.IstioResolution{}, nil, err
		}
		r.cat, provisional, r.lock.Set.Unsupported = cat, true, true
		r.log.Warn("unknown Istio minor explicitly allowed (Options.AllowUnsupported)", "minor", minor)
		r.note(note)
	}
	rel := r.cat.Release(minor)
	switch {
	case bare && r.opts.Discover:
		if rel.EndOfLife(time.Now()) {
			r.note(rel.EndOfLifeText())
		}
		return manifests.IstioResolution{Version: minor, Release: rel}, nil, nil
	case bare && provisional:
		return manifests.IstioResolution{}, nil, fmt.Errorf("istio %s: the catalog knows no patch of this minor; name an exact version like %s.0, or let resolve find the newest published one (Options.Discover)", minor, minor)
	case provisional:
		return manifests.IstioResolution{Version: v, Release: rel},
			&manifests.IstioChoice{Requested: v, Source: manifests.IstioFromExact, Reason: "the spec names the exact version"}, nil
	}
	ir, err := r.cat.ResolveIstio(v)
	if err != nil {
		return ir, nil, err
	}
	r.note(ir.Notes...)
	choice := &manifests.IstioChoice{Requested: v, Source: manifests.IstioFromExact, Reason: "the spec names the exact version", CatalogLatest: rel.Latest}
	if bare {
		choice.Source = manifests.IstioFromCatalog
		choice.Reason = fmt.Sprintf("the catalog's newest %s patch; upstream was not asked for newer ones", minor)
	}
	return ir, choice, nil
}

// discover sets the Istio patch to the newest one upstream publishes with
// every chart and image this spec needs.
func (r *resolver) discover(ctx context.Context, s *manifests.Spec, plan *setPlan) error {
	rel := plan.istio.Release
	req := render.IstioRequest{Profile: s.Istio.Profile, IngressGateway: s.Istio.IngressGateway, CNI: s.Istio.CNI}
	v, choice, err := discoverPatch(ctx, r.cat, r.c, r.index, rel.Minor, DiscoverOptions{
		Charts: req.Charts(),
		Images: manifests.ImageOptions{Profile: s.Istio.Profile, Variants: s.Variants(), CNI: s.Istio.CNI, Agentgateway: s.Istio.Agentgateway},
	})
	if err != nil {
		return err
	}
	plan.istio.Version = v
	plan.istio.Known = slices.Contains(rel.Patches, v)
	set := &r.lock.Set
	set.Istio, set.ResolvedFrom = v, &choice
	r.log.Debug("istio patch chosen", "requested", rel.Minor, "version", v, "source", choice.Source, "reason", choice.Reason)
	if !plan.istio.Known && len(rel.Patches) > 0 {
		r.note(fmt.Sprintf("istio %s is published upstream but is not among the catalog's %s patches (newest known %s); the %s rules apply: %s",
			v, rel.Minor, rel.Patches[len(rel.Patches)-1], rel.Minor, rel.RulesText()))
	}
	return nil
}

// narrowKubernetes raises the set's Kubernetes minimum to the Gateway API
// release's own floor when that is higher, so that install's preflight
// checks it too.
func (r *resolver) narrowKubernetes(set *manifests.ResolvedSet) {
	if set.GatewayAPI == "" || set.Kubernetes.Min == "" {
		return
	}
	floor, why := r.cat.GatewayAPIKubernetesMin(set.GatewayAPI)
	if floor == "" || !minorBelow(set.Kubernetes.Min, floor) {
		return
	}
	r.note(fmt.Sprintf("the set's Kubernetes range starts at %s, not %s: gateway-api %s needs Kubernetes %s or newer (%s)",
		floor, set.Kubernetes.Min, set.GatewayAPI, floor, why))
	set.Kubernetes.Min = floor
}

// minorOf returns "1.30" for "1.30.3" or "1.30".
func minorOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// minorBelow reports whether Kubernetes minor a ("1.29") is older than b.
func minorBelow(a, b string) bool {
	var amaj, amin, bmaj, bmin int
	if _, err := fmt.Sscanf(a, "%d.%d", &amaj, &amin); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d.%d", &bmaj, &bmin); err != nil {
		return false
	}
	return amaj < bmaj || amaj == bmaj && amin < bmin
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// PhaseOptions say which phase to set.
type PhaseOptions struct {
	Kube Kube
	// Namespace is the control plane's (default istio-system).
	Namespace string
	Phase     string
	// Waypoints replaces the ambient namespaces that get a waypoint in the
	// traffic phase; nil keeps the recorded ones.
	Waypoints []string
	// Force applies mtls-strict although the preflight found workloads it
	// would cut off.
	Force bool
	Log   func(format string, args ...any)
}

// PhaseResult is what a phase change did.
type PhaseResult struct {
	From  string `json:"from"`
	Phase string `json:"phase"`
	// Applied were created or changed (objects that already match are
	// left alone).
	Applied []string `json:"applied"`
	Deleted []string `json:"deleted,omitempty"`
	// AtRisk are workloads the preflight of mtls-strict found outside the
	// mesh (they cannot speak mTLS to it); Denied describes what authz
	// will deny.
	AtRisk []string `json:"atRisk,omitempty"`
	Denied []string `json:"denied,omitempty"`
}

// ErrPhaseAtRisk means mtls-strict would cut workloads off; nothing changed.
var ErrPhaseAtRisk = errors.New("strict mTLS would cut off workloads outside the mesh")

// systemNamespaces are never checked or enrolled.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

// SetPhase moves the mesh to phase: it applies the phase's resources (and
// those of the phases before it) server-side, deletes the resources of
// later phases meshpack created (only objects with meshpack's labels), and
// records the phase. Applying the current phase again changes nothing.
func SetPhase(ctx context.Context, opts PhaseOptions) (*PhaseResult, error) {
	if opts.Namespace == "" {
		opts.Namespace = install.DefaultNamespace
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if PhaseRank(opts.Phase) < 0 {
		return nil, fmt.Errorf("phase %q: want one of %s", opts.Phase, strings.Join(Phases, ", "))
	}
	c, err := opts.Kube.open()
	if err != nil {
		return nil, err
	}
	return applyPhase(ctx, c, opts, logf)
}

// applyPhase is SetPhase on a connection.
func applyPhase(ctx context.Context, c *conn, opts PhaseOptions, logf func(string, ...any)) (*PhaseResult, error) {
	rec, found, err := readRecord(ctx, c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no install record (ConfigMap %s/%s): install the mesh with meshpack first", opts.Namespace, RecordName)
	}
	enrolled, err := enrolledNamespaces(ctx, c)
	if err != nil {
		return nil, err
	}
	cfg := PhaseConfig{Namespace: opts.Namespace, Profile: rec.Profile, Waypoints: rec.Waypoints}
	for _, e := range enrolled {
		cfg.Enrolled = append(cfg.Enrolled, e.Name)
	}
	if opts.Waypoints != nil {
		cfg.Waypoints = opts.Waypoints
	}
	res := &PhaseResult{From: rec.Phase, Phase: opts.Phase}
	if PhaseRank(opts.Phase) >= PhaseRank(PhaseMTLSStrict) {
		if res.AtRisk, err = outsideMesh(ctx, c, opts.Namespace); err != nil {
			return nil, err
		}
		if len(res.AtRisk) > 0 && !opts.Force && PhaseRank(rec.Phase) < PhaseRank(PhaseMTLSStrict) {
			return res, fmt.Errorf("%w; nothing changed:\n  - %s", ErrPhaseAtRisk, strings.Join(res.AtRisk, "\n  - "))
		}
	}
	if PhaseRank(opts.Phase) >= PhaseRank(PhaseAuthz) {
		res.Denied = []string{fmt.Sprintf("every request to a mesh workload except from its own namespace, %s, istio-ingress and kube-system (enrolled: %s)", opts.Namespace, strings.Join(cfg.Enrolled, ", "))}
	}
	desired, err := PhaseObjects(opts.Phase, cfg)
	if err != nil {
		return nil, err
	}
	if err := waitEstablished(ctx, c, crdsOf(desired), phaseCRDTimeout); err != nil {
		return res, fmt.Errorf("phase %s: %w", opts.Phase, err)
	}
	if err := ensureNamespaces(ctx, c, desired); err != nil {
		return res, err
	}
	want := map[string]bool{}
	for _, u := range desired {
		want[objKey(u)] = true
		ri := c.dynamic.Resource(phaseGVRs[u.GetKind()]).Namespace(u.GetNamespace())
		// Unchanged objects are not written again: no new resourceVersion,
		// no admission round trip.
		if live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{}); err == nil && subsetJSON(u.Object["spec"], live.Object["spec"]) && subsetJSON(u.GetLabels(), live.GetLabels()) {
			continue
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return res, fmt.Errorf("phase %s: server-side apply of %s: %w", opts.Phase, objKey(u), err)
		}
		res.Applied = append(res.Applied, objKey(u))
	}
	owned, err := ownedPhaseObjects(ctx, c)
	if err != nil {
		return res, err
	}
	for _, key := range owned {
		if want[key.String()] {
			continue
		}
		err := c.dynamic.Resource(key.gvr).Namespace(key.ns).Delete(ctx, key.name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("phase %s: deleting %s: %w", opts.Phase, key, err)
		}
		res.Deleted = append(res.Deleted, key.String())
	}
	if err := setWaypointLabels(ctx, c, rec.Waypoints, cfg.Waypoints, PhaseRank(opts.Phase) >= PhaseRank(PhaseTraffic)); err != nil {
		return res, err
	}
	rec.Phase, rec.Waypoints = opts.Phase, cfg.Waypoints
	if err := updateRecord(ctx, c, opts.Namespace, map[string]string{"phase": rec.Phase, "waypoints": strings.Join(rec.Waypoints, "\n")}); err != nil {
		return res, err
	}
	logf("phase %s: %d resources applied, %d deleted", opts.Phase, len(res.Applied), len(res.Deleted))
	return res, nil
}

// phaseCRDTimeout bounds the wait for the CRDs a phase uses (installed by
// the base chart and the Gateway API step just before).
const phaseCRDTimeout = 2 * time.Minute

// crdsOf names the CRDs of the kinds in objs.
func crdsOf(objs []*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range objs {
		r := phaseGVRs[u.GetKind()]
		name := r.Resource + "." + r.Group
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// ownedKey names one object a phase created.
type ownedKey struct {
	kind, ns, name string
	gvr            schema.GroupVersionResource
}

func (k ownedKey) String() string { return k.kind + " " + k.ns + "/" + k.name }

// ownedPhaseObjects lists every object carrying meshpack's phase labels.
func ownedPhaseObjects(ctx context.Context, c *conn) ([]ownedKey, error) {
	var out []ownedKey
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + FieldManager + "," + LabelPhase}
	kinds := make([]string, 0, len(phaseGVRs))
	for k := range phaseGVRs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		r := phaseGVRs[kind]
		list, err := c.dynamic.Resource(r).List(ctx, sel)
		if apierrors.IsNotFound(err) {
			continue // the kind is not served (e.g. no Gateway API): nothing of it is ours
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", kind, err)
		}
		for _, u := range list.Items {
			out = append(out, ownedKey{kind: kind, ns: u.GetNamespace(), name: u.GetName(), gvr: r})
		}
	}
	return out, nil
}

// outsideMesh lists pods (in namespaces other than the system ones and the
// mesh's own) that have no sidecar and are not in an ambient namespace:
// under STRICT mTLS they can no longer reach mesh workloads.
func outsideMesh(ctx context.Context, c *conn, root string) ([]string, error) {
	nss, err := c.typed.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	ambient := map[string]bool{}
	for _, ns := range nss.Items {
		ambient[ns.Name] = ns.Labels[LabelDataplane] == dataplaneAmbient
	}
	pods, err := c.typed.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var out []string
	for _, p := range pods.Items {
		if systemNamespaces[p.Namespace] || p.Namespace == root || p.Namespace == install.IngressNamespace || inMesh(p, ambient[p.Namespace]) {
			continue
		}
		out = append(out, "Pod "+p.Namespace+"/"+p.Name+": no istio-proxy sidecar and not in an ambient namespace")
	}
	sort.Strings(out)
	return out, nil
}

func inMesh(p corev1.Pod, ambientNS bool) bool {
	return ambientNS && p.Labels[LabelDataplane] != "none" || hasProxy(p)
}

// setWaypointLabels points each waypoint namespace at its waypoint while
// on is true, and removes the label from namespaces that no longer have
// one (only where the value is still meshpack's "waypoint").
func setWaypointLabels(ctx context.Context, c *conn, before, after []string, on bool) error {
	keep := map[string]bool{}
	if on {
		for _, ns := range after {
			keep[ns] = true
			if err := patchNamespaceLabel(ctx, c, ns, "istio.io/use-waypoint", "waypoint"); err != nil {
				return err
			}
		}
	}
	for _, ns := range append(append([]string{}, before...), after...) {
		if keep[ns] {
			continue
		}
		n, err := c.typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
		if n.Labels["istio.io/use-waypoint"] == "waypoint" {
			if err := patchNamespaceLabel(ctx, c, ns, "istio.io/use-waypoint", ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// patchNamespaceLabel sets (or, with value "", removes) one label.
func patchNamespaceLabel(ctx context.Context, c *conn, ns, key, value string) error {
	v := `null`
	if value != "" {
		v = `"` + value + `"`
	}
	patch := []byte(`{"metadata":{"labels":{"` + key + `":` + v + `}}}`)
	if _, err := c.typed.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("namespace %s: label %s: %w", ns, key, err)
	}
	return nil
}

// ensureNamespaces creates the namespaces phase objects live in that do not
// exist yet (istio-ingress without an ingress gateway chart), labelled as
// meshpack's.
func ensureNamespaces(ctx context.Context, c *conn, objs []*unstructured.Unstructured) error {
	done := map[string]bool{}
	for _, u := range objs {
		ns := u.GetNamespace()
		if done[ns] {
			continue
		}
		done[ns] = true
		_, err := c.typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			if err != nil {
				return fmt.Errorf("namespace %s: %w", ns, err)
			}
			continue
		}
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{LabelManagedBy: FieldManager}}}
		if _, err := c.typed.CoreV1().Namespaces().Create(ctx, n, metav1.CreateOptions{FieldManager: FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	return nil
}

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// StatusReport is the state of the mesh meshpack installed.
type StatusReport struct {
	Installed  bool            `json:"installed"`
	Record     *Record         `json:"record,omitempty"`
	Releases   []ReleaseStatus `json:"releases,omitempty"`
	Revisions  []string        `json:"revisions,omitempty"`
	Phase      string          `json:"phase,omitempty"`
	Namespaces []NamespaceInfo `json:"namespaces"`
	// Drift lists what differs from what meshpack set: images not pinned
	// (the audit) and phase resources missing or changed by hand.
	Drift []string `json:"drift"`
}

// ReleaseStatus is one Helm release of the install.
type ReleaseStatus struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Chart     string `json:"chart,omitempty"`
	Revision  int    `json:"revision,omitempty"`
	Status    string `json:"status"`
}

// Status reports the installed set, its releases, istiod revisions, the
// phase, the enrolled namespaces and any drift.
func Status(ctx context.Context, k Kube, namespace string) (*StatusReport, error) {
	if namespace == "" {
		namespace = install.DefaultNamespace
	}
	c, err := k.open()
	if err != nil {
		return nil, err
	}
	rep := &StatusReport{Drift: []string{}}
	if rep.Namespaces, err = enrolledNamespaces(ctx, c); err != nil {
		return nil, err
	}
	rec, found, err := readRecord(ctx, c, namespace)
	if err != nil || !found {
		return rep, err
	}
	rep.Installed, rep.Record, rep.Phase = true, &rec, rec.Phase
	for _, r := range rec.Releases {
		ns, name, _ := strings.Cut(r, "/")
		rs := ReleaseStatus{Name: name, Namespace: ns, Status: "missing"}
		cfg, err := c.helmConfig(ns)
		if err != nil {
			return nil, err
		}
		if last, err := cfg.Releases.Last(name); err == nil {
			rs.Chart, rs.Revision, rs.Status = last.Chart.Metadata.Version, last.Version, last.Info.Status.String()
		}
		if rs.Status != release.StatusDeployed.String() {
			rep.Drift = append(rep.Drift, fmt.Sprintf("release %s in %s is %s", name, ns, rs.Status))
		}
		rep.Releases = append(rep.Releases, rs)
	}
	deps, err := c.typed.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		return nil, fmt.Errorf("listing istiod Deployments: %w", err)
	}
	for _, d := range deps.Items {
		rev := d.Labels["istio.io/rev"]
		if rev == "" {
			rev = "default"
		}
		rep.Revisions = append(rep.Revisions, rev)
	}
	sort.Strings(rep.Revisions)
	a, err := audit(ctx, c, AuditOptions{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	for _, o := range a.Offenders {
		rep.Drift = append(rep.Drift, fmt.Sprintf("%s %s/%s container %s runs %s, not a pinned bundle digest", o.Kind, o.Namespace, o.Name, o.Container, o.Image))
	}
	if rec.Phase != "" {
		d, err := phaseDrift(ctx, c, rec, namespace)
		if err != nil {
			return nil, err
		}
		rep.Drift = append(rep.Drift, d...)
	}
	return rep, nil
}

// phaseDrift compares each resource of the recorded phase with the cluster.
func phaseDrift(ctx context.Context, c *conn, rec Record, namespace string) ([]string, error) {
	enrolled, err := enrolledNamespaces(ctx, c)
	if err != nil {
		return nil, err
	}
	cfg := PhaseConfig{Namespace: namespace, Profile: rec.Profile, Waypoints: rec.Waypoints}
	for _, e := range enrolled {
		cfg.Enrolled = append(cfg.Enrolled, e.Name)
	}
	desired, err := PhaseObjects(rec.Phase, cfg)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range desired {
		live, err := c.dynamic.Resource(phaseGVRs[u.GetKind()]).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			out = append(out, fmt.Sprintf("phase %s: %s is missing (meshpack phase set %s restores it)", rec.Phase, objKey(u), rec.Phase))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", objKey(u), err)
		}
		if !subsetJSON(u.Object["spec"], live.Object["spec"]) {
			out = append(out, fmt.Sprintf("phase %s: %s was changed by hand (meshpack phase set %s restores it)", rec.Phase, objKey(u), rec.Phase))
		}
	}
	return out, nil
}

// subsetJSON reports whether every field of want has the same value in
// got (compared through JSON, so ints and floats alike); fields the API
// server defaulted into got do not count.
func subsetJSON(want, got any) bool {
	var x, y any
	ja, _ := json.Marshal(want)
	jb, _ := json.Marshal(got)
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return subset(x, y)
}

func subset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !subset(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

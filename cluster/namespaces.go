package cluster

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// Enrolment labels, as Istio documents them.
const (
	LabelInjection    = "istio-injection"         // sidecar: "enabled"
	LabelRevision     = "istio.io/rev"            // sidecar with revisions: the tag or revision
	LabelDataplane    = "istio.io/dataplane-mode" // ambient: "ambient"
	ModeSidecar       = "sidecar"
	ModeAmbient       = "ambient"
	injectionEnabled  = "enabled"
	dataplaneAmbient  = "ambient"
	profileAmbientKey = "ambient"
)

// NamespaceInfo is one namespace's enrolment.
type NamespaceInfo struct {
	Name string `json:"name"`
	// Mode is sidecar or ambient; Revision the istio.io/rev label, if any.
	Mode     string `json:"mode"`
	Revision string `json:"revision,omitempty"`
	// Restart lists pods whose sidecar state differs from the namespace's
	// (they change on their next restart): without a sidecar after add,
	// with one after remove. Ambient needs no restart.
	Restart []string `json:"restart,omitempty"`
}

// NamespaceOptions say which namespaces to enrol or release.
type NamespaceOptions struct {
	Kube Kube
	// Namespace is the control plane's (default istio-system); its install
	// record says the profile.
	Namespace string
	Names     []string
}

// AddNamespaces enrols namespaces in the mesh: ambient sets
// istio.io/dataplane-mode=ambient (no restart); sidecar sets
// istio-injection=enabled and lists the pods that need a restart to get
// their sidecar.
func AddNamespaces(ctx context.Context, opts NamespaceOptions) ([]NamespaceInfo, error) {
	return changeNamespaces(ctx, opts, true)
}

// RemoveNamespaces takes namespaces out of the mesh (removes the labels
// AddNamespaces sets, and istio.io/rev); sidecar pods still carrying a
// proxy are listed for restart.
func RemoveNamespaces(ctx context.Context, opts NamespaceOptions) ([]NamespaceInfo, error) {
	return changeNamespaces(ctx, opts, false)
}

func changeNamespaces(ctx context.Context, opts NamespaceOptions, add bool) ([]NamespaceInfo, error) {
	if opts.Namespace == "" {
		opts.Namespace = install.DefaultNamespace
	}
	if len(opts.Names) == 0 {
		return nil, fmt.Errorf("no namespace named")
	}
	c, err := opts.Kube.open()
	if err != nil {
		return nil, err
	}
	rec, found, err := readRecord(ctx, c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no install record (ConfigMap %s/%s): install the mesh with meshpack first", opts.Namespace, RecordName)
	}
	var out []NamespaceInfo
	for _, name := range opts.Names {
		if systemNamespaces[name] || name == opts.Namespace {
			return out, fmt.Errorf("namespace %s: the mesh's own and Kubernetes' system namespaces are not enrolled", name)
		}
		if _, err := c.typed.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return out, fmt.Errorf("namespace %s does not exist", name)
			}
			return out, fmt.Errorf("namespace %s: %w", name, err)
		}
		info := NamespaceInfo{Name: name, Mode: ModeSidecar}
		if rec.Profile == profileAmbientKey {
			info.Mode = ModeAmbient
		}
		for _, l := range []string{LabelInjection, LabelDataplane, LabelRevision} {
			if err := patchNamespaceLabel(ctx, c, name, l, ""); err != nil {
				return out, err
			}
		}
		if add {
			key, value := LabelInjection, injectionEnabled
			if info.Mode == ModeAmbient {
				key, value = LabelDataplane, dataplaneAmbient
			}
			if err := patchNamespaceLabel(ctx, c, name, key, value); err != nil {
				return out, err
			}
		}
		if info.Mode == ModeSidecar {
			if info.Restart, err = restartNeeded(ctx, c, name, add); err != nil {
				return out, err
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// restartNeeded lists the pods of ns whose sidecar state is not what the
// namespace now asks for.
func restartNeeded(ctx context.Context, c *conn, ns string, wantProxy bool) ([]string, error) {
	pods, err := c.typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods of %s: %w", ns, err)
	}
	var out []string
	for _, p := range pods.Items {
		if hasProxy(p) != wantProxy {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func hasProxy(p corev1.Pod) bool {
	for _, ct := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if ct.Name == "istio-proxy" {
			return true
		}
	}
	return false
}

// ListNamespaces lists the enrolled namespaces.
func ListNamespaces(ctx context.Context, k Kube) ([]NamespaceInfo, error) {
	c, err := k.open()
	if err != nil {
		return nil, err
	}
	return enrolledNamespaces(ctx, c)
}

// enrolledNamespaces are the namespaces carrying an enrolment label.
func enrolledNamespaces(ctx context.Context, c *conn) ([]NamespaceInfo, error) {
	nss, err := c.typed.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []NamespaceInfo
	for _, ns := range nss.Items {
		l := ns.Labels
		switch {
		case l[LabelDataplane] == dataplaneAmbient:
			out = append(out, NamespaceInfo{Name: ns.Name, Mode: ModeAmbient})
		case l[LabelInjection] == injectionEnabled || l[LabelRevision] != "":
			out = append(out, NamespaceInfo{Name: ns.Name, Mode: ModeSidecar, Revision: l[LabelRevision]})
		}
	}
	return out, nil
}

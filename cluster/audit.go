package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// AuditOptions say what to audit.
type AuditOptions struct {
	Kube Kube
	// Namespace is the control plane's (default istio-system); its record
	// (RecordName) names the pinned images unless Images is given.
	Namespace string
	// Images are the allowed references (REGISTRY/…@sha256:…), e.g. the
	// pinned images of a bundle's plan; empty reads the install record.
	Images []string
}

// Offender is one container whose image is not a pinned reference.
type Offender struct {
	Namespace string `json:"namespace"`
	// Kind and Name are the object: a Pod, or a workload's pod template.
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Container string `json:"container"`
	Init      bool   `json:"init,omitempty"`
	Image     string `json:"image"`
}

// AuditReport is the outcome of an audit.
type AuditReport struct {
	// Namespaces are the mesh's namespaces, where every container counts;
	// elsewhere only injected istio-proxy containers do.
	Namespaces []string   `json:"namespaces"`
	Containers int        `json:"containers"`
	Offenders  []Offender `json:"offenders"`
}

// podSpec is one pod spec found in the cluster.
type podSpec struct {
	kind, namespace, name string
	spec                  corev1.PodSpec
}

// Audit checks every container and init container image of every Pod and
// pod template (Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs,
// CronJobs) in the mesh's namespaces, and every injected istio-proxy
// container (and Istio's init containers) in any namespace: each must be
// one of the pinned references, REGISTRY/…@sha256:<digest from the
// bundle>.
func Audit(ctx context.Context, opts AuditOptions) (*AuditReport, error) {
	if opts.Namespace == "" {
		opts.Namespace = install.DefaultNamespace
	}
	c, err := opts.Kube.open()
	if err != nil {
		return nil, err
	}
	return audit(ctx, c, opts)
}

// audit is Audit on a connection.
func audit(ctx context.Context, c *conn, opts AuditOptions) (*AuditReport, error) {
	allowed := map[string]bool{}
	images := opts.Images
	meshNS := map[string]bool{opts.Namespace: true}
	rec, found, err := readRecord(ctx, c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	if len(images) == 0 {
		if !found {
			return nil, fmt.Errorf("no install record (ConfigMap %s/%s): install with meshpack first, or name the bundle to audit against", opts.Namespace, RecordName)
		}
		images = rec.Images
	}
	for _, r := range rec.Releases {
		if ns, _, ok := strings.Cut(r, "/"); ok {
			meshNS[ns] = true
		}
	}
	meshNS[install.IngressNamespace] = true
	for _, img := range images {
		allowed[install.DigestOnly(img)] = true
	}
	specs, err := listPodSpecs(ctx, c)
	if err != nil {
		return nil, err
	}
	rep := &AuditReport{}
	for ns := range meshNS {
		rep.Namespaces = append(rep.Namespaces, ns)
	}
	sort.Strings(rep.Namespaces)
	for _, ps := range specs {
		all := meshNS[ps.namespace]
		check := func(cs corev1.Container, init bool) {
			if !all && !isMeshContainer(cs.Name) {
				return
			}
			rep.Containers++
			if !allowed[install.DigestOnly(cs.Image)] {
				rep.Offenders = append(rep.Offenders, Offender{Namespace: ps.namespace, Kind: ps.kind, Name: ps.name, Container: cs.Name, Init: init, Image: cs.Image})
			}
		}
		for _, cs := range ps.spec.InitContainers {
			check(cs, true)
		}
		for _, cs := range ps.spec.Containers {
			check(cs, false)
		}
	}
	sort.Slice(rep.Offenders, func(i, j int) bool {
		a, b := rep.Offenders[i], rep.Offenders[j]
		return a.Namespace+"/"+a.Kind+"/"+a.Name+"/"+a.Container < b.Namespace+"/"+b.Kind+"/"+b.Name+"/"+b.Container
	})
	return rep, nil
}

// isMeshContainer reports whether a container is one istiod injects: the
// proxy, or the init containers that set up its traffic redirection.
func isMeshContainer(name string) bool {
	return name == "istio-proxy" || name == "istio-init" || name == "istio-validation"
}

// listPodSpecs lists every Pod and pod template in the cluster.
func listPodSpecs(ctx context.Context, c *conn) ([]podSpec, error) {
	var out []podSpec
	all := metav1.ListOptions{}
	apps, batch := c.typed.AppsV1(), c.typed.BatchV1()
	pods, err := c.typed.CoreV1().Pods("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing Pods: %w", err)
	}
	for _, p := range pods.Items {
		out = append(out, podSpec{"Pod", p.Namespace, p.Name, p.Spec})
	}
	deps, err := apps.Deployments("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for _, d := range deps.Items {
		out = append(out, podSpec{"Deployment", d.Namespace, d.Name, d.Spec.Template.Spec})
	}
	dss, err := apps.DaemonSets("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets: %w", err)
	}
	for _, d := range dss.Items {
		out = append(out, podSpec{"DaemonSet", d.Namespace, d.Name, d.Spec.Template.Spec})
	}
	sss, err := apps.StatefulSets("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing StatefulSets: %w", err)
	}
	for _, d := range sss.Items {
		out = append(out, podSpec{"StatefulSet", d.Namespace, d.Name, d.Spec.Template.Spec})
	}
	rss, err := apps.ReplicaSets("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	for _, d := range rss.Items {
		out = append(out, podSpec{"ReplicaSet", d.Namespace, d.Name, d.Spec.Template.Spec})
	}
	jobs, err := batch.Jobs("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing Jobs: %w", err)
	}
	for _, d := range jobs.Items {
		out = append(out, podSpec{"Job", d.Namespace, d.Name, d.Spec.Template.Spec})
	}
	cjs, err := batch.CronJobs("").List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing CronJobs: %w", err)
	}
	for _, d := range cjs.Items {
		out = append(out, podSpec{"CronJob", d.Namespace, d.Name, d.Spec.JobTemplate.Spec.Template.Spec})
	}
	return out, nil
}

package cluster

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// UninstallOptions say what to remove.
type UninstallOptions struct {
	Kube Kube
	// Namespace is the control plane's (default istio-system).
	Namespace string
	// PurgeCRDs also deletes Istio's CRDs and the Gateway API CRDs meshpack
	// applied, and with them every resource of those kinds. Without it CRDs
	// stay, as Istio's docs advise.
	PurgeCRDs bool
	Log       func(format string, args ...any)
}

// UninstallResult is what an uninstall removed.
type UninstallResult struct {
	Releases []string `json:"releases"` // NAMESPACE/RELEASE, in removal order
	CRDs     []string `json:"crds,omitempty"`
}

// defaultReleases are the releases an install makes, in install order,
// for when no record names them.
func defaultReleases(namespace string) []string {
	return []string{namespace + "/istio-base", namespace + "/istiod", namespace + "/istio-cni", namespace + "/ztunnel",
		install.IngressNamespace + "/istio-ingressgateway", namespace + "/" + install.StepPrometheus, namespace + "/kiali-server"}
}

// Uninstall removes the releases an install made in reverse order (from
// its record, else the default release names) and the record; CRDs stay
// unless PurgeCRDs. Releases already gone are skipped, so a re-run after an
// interruption finishes the job.
func Uninstall(ctx context.Context, opts UninstallOptions) (*UninstallResult, error) {
	if opts.Namespace == "" {
		opts.Namespace = install.DefaultNamespace
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c, err := opts.Kube.open()
	if err != nil {
		return nil, err
	}
	rec, found, err := readRecord(ctx, c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	releases := defaultReleases(opts.Namespace)
	if found && len(rec.Releases) > 0 {
		releases = rec.Releases
	}
	res := &UninstallResult{}
	for i := len(releases) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		ns, name, _ := strings.Cut(releases[i], "/")
		cfg, err := c.helmConfig(ns)
		if err != nil {
			return res, err
		}
		u := action.NewUninstall(cfg)
		if _, err := u.Run(name); err != nil {
			if strings.Contains(err.Error(), driver.ErrReleaseNotFound.Error()) {
				continue
			}
			return res, fmt.Errorf("helm uninstall of release %s in %s: %w", name, ns, err)
		}
		res.Releases = append(res.Releases, releases[i])
		logf("release %s in %s uninstalled", name, ns)
	}
	err = c.typed.CoreV1().ConfigMaps(opts.Namespace).Delete(ctx, RecordName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return res, fmt.Errorf("deleting ConfigMap %s/%s: %w", opts.Namespace, RecordName, err)
	}
	if opts.PurgeCRDs {
		if res.CRDs, err = purgeCRDs(ctx, c); err != nil {
			return res, err
		}
		logf("%d CRDs deleted", len(res.CRDs))
	} else {
		logf("CRDs kept (Istio's and Gateway API's): purging them deletes every resource of their kinds too")
	}
	return res, nil
}

package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/lattice-mesh/meshpack/manifests/render"
)

// applyFile applies every object of the Gateway API install file as
// carried (its CRDs, and the ValidatingAdmissionPolicy that guards safe
// upgrades) server-side, with field manager meshpack taking over
// conflicting fields as kubectl apply --server-side --force-conflicts does.
// It returns the names of the CRDs.
func applyFile(ctx context.Context, c *conn, file []byte) ([]string, error) {
	objs, err := render.ParseObjects(string(file))
	if err != nil {
		return nil, fmt.Errorf("gateway-api-crds: %w", err)
	}
	groups, err := restmapper.GetAPIGroupResources(c.typed.Discovery())
	if err != nil {
		return nil, fmt.Errorf("gateway-api-crds: discovering the API server's resources: %w", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	var crds []string
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o.Data}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return crds, fmt.Errorf("gateway-api-crds: %s %s: the API server does not serve %s: %w", u.GetKind(), u.GetName(), gvk, err)
		}
		var ri dynamic.ResourceInterface = c.dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = c.dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return crds, fmt.Errorf("gateway-api-crds: server-side apply of %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		if gvk.Kind == "CustomResourceDefinition" {
			crds = append(crds, u.GetName())
		}
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("gateway-api-crds: the file holds no CustomResourceDefinition")
	}
	return crds, nil
}

// waitEstablished waits until every named CRD is Established (the API
// server does this itself, within a second or two).
func waitEstablished(ctx context.Context, c *conn, names []string, timeout time.Duration) error {
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for n := range pending {
			u, err := c.dynamic.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				continue // transient: the timeout names what is still pending
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, x := range conds {
				m, _ := x.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					delete(pending, n)
				}
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil && len(pending) > 0 {
		var left []string
		for n := range pending {
			left = append(left, n)
		}
		return fmt.Errorf("CRDs not Established after %s: %s: %w", timeout, strings.Join(left, ", "), err)
	}
	return err
}

// purgeCRDs deletes the CRDs an install brought: Istio's (group *.istio.io,
// kept by Helm on uninstall) and the Gateway API CRDs meshpack applied
// (field manager meshpack). Deleting a CRD deletes every resource of it.
func purgeCRDs(ctx context.Context, c *conn) ([]string, error) {
	list, err := c.dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing CRDs: %w", err)
	}
	var deleted []string
	for _, crd := range list.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		ours := strings.HasSuffix(group, "istio.io")
		if group == "gateway.networking.k8s.io" || group == "gateway.networking.x-k8s.io" {
			for _, mf := range crd.GetManagedFields() {
				ours = ours || mf.Manager == FieldManager
			}
		}
		if !ours {
			continue
		}
		if err := c.dynamic.Resource(crdGVR).Delete(ctx, crd.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("deleting CRD %s: %w", crd.GetName(), err)
		}
		deleted = append(deleted, crd.GetName())
	}
	return deleted, nil
}

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/lattice-mesh/meshpack/cluster"
)

var (
	gvrPA = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	gvrAP = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}
	gvrGW = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	gvrDR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	gvrTM = schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"}
)

// TestPhases walks an ambient mesh through every phase and back against a
// real API server: each phase creates its resources, re-applying changes
// nothing (resourceVersion stable), mtls-strict is refused while a pod
// outside the mesh exists, going back removes exactly what later phases
// added and leaves a user's PeerAuthentication alone; namespace add/remove
// set and clear the ambient label; status reports phase, namespaces and
// drift (a Deployment edited to a tag, a phase resource edited by hand).
func TestPhases(t *testing.T) {
	e := env(t)
	kc := kubeServer(t)
	b := e.loadBundle(t, e.createBundle(t))
	e.mustInstall(t, b, kc)
	kube, dyn := kubeClient(t, kc), dynClient(t, kc)
	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	userPA := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "legacy", "namespace": "team-b"}, "spec": map[string]any{"mtls": map[string]any{"mode": "DISABLE"}}}}
	if _, err := dyn.Resource(gvrPA).Namespace("team-b").Create(ctx, userPA, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(r schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
		u, err := dyn.Resource(r).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return u
	}
	mtlsMode := func() string {
		u := get(gvrPA, "istio-system", "meshpack-mesh-mtls")
		if u == nil {
			return "missing"
		}
		m, _, _ := unstructured.NestedString(u.Object, "spec", "mtls", "mode")
		return m
	}
	if m := mtlsMode(); m != "PERMISSIVE" || get(gvrTM, "istio-system", "meshpack-mesh-telemetry") == nil {
		t.Fatalf("after install (observability): mTLS %s, telemetry %v", m, get(gvrTM, "istio-system", "meshpack-mesh-telemetry"))
	}

	// A pod outside the mesh blocks strict mTLS until forced.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "legacy-client", Namespace: "team-b"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/team/app:1.4"}}}}
	if _, err := kube.CoreV1().Pods("team-b").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, "", "phase", "set", "mtls-strict", "--kubeconfig", kc)
	if code != 1 || !strings.Contains(errOut, "Pod team-b/legacy-client") || !strings.Contains(errOut, "--force") {
		t.Fatalf("phase set mtls-strict with a pod outside the mesh: exit %d, want 1 naming it\n%s", code, errOut)
	}
	if m := mtlsMode(); m != "PERMISSIVE" {
		t.Fatalf("a refused mtls-strict changed the mode to %s", m)
	}
	if out, errOut, code := runCLI(t, "", "phase", "set", "mtls-strict", "--force", "--kubeconfig", kc); code != 0 {
		t.Fatalf("phase set mtls-strict --force: exit %d\n%s%s", code, out, errOut)
	}
	rv := get(gvrPA, "istio-system", "meshpack-mesh-mtls").GetResourceVersion()
	if _, errOut, code := runCLI(t, "", "phase", "set", "mtls-strict", "--kubeconfig", kc); code != 0 {
		t.Fatalf("phase set mtls-strict again: exit %d\n%s", code, errOut)
	}
	if m, again := mtlsMode(), get(gvrPA, "istio-system", "meshpack-mesh-mtls").GetResourceVersion(); m != "STRICT" || again != rv {
		t.Errorf("mtls-strict twice: mode %s, resourceVersion %s -> %s (want STRICT, unchanged)", m, rv, again)
	}

	// Enrol team-a (ambient), then traffic with a waypoint, then authz.
	if out, errOut, code := runCLI(t, "", "namespace", "add", "team-a", "--kubeconfig", kc); code != 0 || !strings.Contains(out, "enrolled team-a (ambient)") {
		t.Fatalf("namespace add: exit %d\n%s%s", code, out, errOut)
	}
	if ns, _ := kube.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); ns.Labels["istio.io/dataplane-mode"] != "ambient" {
		t.Errorf("team-a labels %v, want istio.io/dataplane-mode=ambient", ns.Labels)
	}
	if _, errOut, code := runCLI(t, "", "phase", "set", "traffic", "--waypoint", "team-a", "--kubeconfig", kc); code != 0 {
		t.Fatalf("phase set traffic: exit %d\n%s", code, errOut)
	}
	for _, o := range []struct {
		r        schema.GroupVersionResource
		ns, name string
	}{{gvrGW, "istio-ingress", "meshpack-ingress"}, {gvrGW, "team-a", "waypoint"}, {gvrDR, "istio-system", "meshpack-mesh-defaults"}} {
		if get(o.r, o.ns, o.name) == nil {
			t.Errorf("traffic phase: %s %s/%s missing", o.r.Resource, o.ns, o.name)
		}
	}
	if _, errOut, code := runCLI(t, "", "phase", "set", "authz", "--kubeconfig", kc); code != 0 {
		t.Fatalf("phase set authz: exit %d\n%s", code, errOut)
	}
	if get(gvrAP, "istio-system", "meshpack-default-deny") == nil || get(gvrAP, "team-a", "meshpack-allow-same-namespace") == nil {
		t.Error("authz phase: default deny or same-namespace allow missing")
	}
	st := status(t, kc)
	if st.Phase != "authz" || len(st.Namespaces) != 1 || st.Namespaces[0].Name != "team-a" || len(st.Drift) != 0 {
		t.Errorf("status: phase %q, namespaces %+v, drift %v; want authz, team-a, none", st.Phase, st.Namespaces, st.Drift)
	}

	// Drift: an image edited to a tag, a phase resource edited by hand.
	dep, err := kube.AppsV1().Deployments("istio-system").Get(ctx, "istiod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep.Spec.Template.Spec.Containers[0].Image = "docker.io/istio/pilot:1.30.3"
	if _, err := kube.AppsV1().Deployments("istio-system").Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pa := get(gvrPA, "istio-system", "meshpack-mesh-mtls")
	_ = unstructured.SetNestedField(pa.Object, "PERMISSIVE", "spec", "mtls", "mode")
	if _, err := dyn.Resource(gvrPA).Namespace("istio-system").Update(ctx, pa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	drift := strings.Join(status(t, kc).Drift, "\n")
	for _, want := range []string{"Deployment istio-system/istiod container discovery runs docker.io/istio/pilot:1.30.3", "PeerAuthentication istio-system/meshpack-mesh-mtls was changed by hand"} {
		if !strings.Contains(drift, want) {
			t.Errorf("status drift lacks %q:\n%s", want, drift)
		}
	}

	// Back to observability: later phases' resources go, the user's stay.
	if _, errOut, code := runCLI(t, "", "phase", "set", "observability", "--kubeconfig", kc); code != 0 {
		t.Fatalf("phase set observability: exit %d\n%s", code, errOut)
	}
	if m := mtlsMode(); m != "PERMISSIVE" {
		t.Errorf("back to observability: mTLS %s", m)
	}
	for _, o := range []struct {
		r        schema.GroupVersionResource
		ns, name string
	}{{gvrGW, "istio-ingress", "meshpack-ingress"}, {gvrGW, "team-a", "waypoint"}, {gvrDR, "istio-system", "meshpack-mesh-defaults"},
		{gvrAP, "istio-system", "meshpack-default-deny"}, {gvrAP, "team-a", "meshpack-allow-same-namespace"}} {
		if get(o.r, o.ns, o.name) != nil {
			t.Errorf("back to observability: %s %s/%s still there", o.r.Resource, o.ns, o.name)
		}
	}
	if get(gvrPA, "team-b", "legacy") == nil {
		t.Error("going back deleted the user's PeerAuthentication team-b/legacy")
	}
	if ns, _ := kube.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); ns.Labels["istio.io/use-waypoint"] != "" {
		t.Errorf("team-a still uses a waypoint: %v", ns.Labels)
	}
	if _, errOut, code := runCLI(t, "", "namespace", "remove", "team-a", "--kubeconfig", kc); code != 0 {
		t.Fatalf("namespace remove: exit %d\n%s", code, errOut)
	}
	if ns, _ := kube.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); ns.Labels["istio.io/dataplane-mode"] != "" {
		t.Errorf("namespace remove left labels %v", ns.Labels)
	}
}

// TestNamespaceSidecar: in sidecar mode add sets istio-injection=enabled
// and lists the pods that need a restart; remove clears it and lists the
// pods still carrying a proxy.
func TestNamespaceSidecar(t *testing.T) {
	e := env(t)
	kc := kubeServer(t)
	b := e.loadBundle(t, e.createBundle(t, "--profile", "sidecar"))
	e.mustInstall(t, b, kc)
	kube := kubeClient(t, kc)
	ctx := context.Background()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "shop"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/team/app:1.4"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "meshed", Namespace: "shop"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/team/app:1.4"}, {Name: "istio-proxy", Image: "x"}}}},
	} {
		if _, err := kube.CoreV1().Pods("shop").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := runCLI(t, "", "namespace", "add", "shop", "--kubeconfig", kc, "-o", "json")
	var infos []cluster.NamespaceInfo
	if code != 0 || json.Unmarshal([]byte(out), &infos) != nil || len(infos) != 1 || infos[0].Mode != "sidecar" || strings.Join(infos[0].Restart, ",") != "plain" {
		t.Fatalf("namespace add (sidecar): exit %d, %+v\n%s%s", code, infos, out, errOut)
	}
	if ns, _ := kube.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}); ns.Labels["istio-injection"] != "enabled" {
		t.Errorf("shop labels %v, want istio-injection=enabled", ns.Labels)
	}
	out, _, code = runCLI(t, "", "namespace", "list", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(out, "shop\tsidecar") {
		t.Errorf("namespace list: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "", "namespace", "remove", "shop", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(out, "restart to apply: meshed") {
		t.Errorf("namespace remove: exit %d\n%s", code, out)
	}
	if ns, _ := kube.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}); ns.Labels["istio-injection"] != "" {
		t.Errorf("namespace remove left labels %v", ns.Labels)
	}
}

func status(t *testing.T, kubeconfig string) cluster.StatusReport {
	t.Helper()
	out, errOut, code := runCLI(t, "", "status", "--kubeconfig", kubeconfig, "-o", "json")
	var st cluster.StatusReport
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status -o json: exit %d\n%s%s", code, out, errOut)
	}
	return st
}

func dynClient(t *testing.T, kubeconfig string) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(restConfig(t, kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

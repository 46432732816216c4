package cluster

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// Adoption phases, in order (the article's: observe first, then tighten).
// Each phase includes the resources of the phases before it.
const (
	PhaseObservability = "observability"
	PhaseMTLSStrict    = "mtls-strict"
	PhaseTraffic       = "traffic"
	PhaseAuthz         = "authz"
)

// Phases lists the phases in order.
var Phases = []string{PhaseObservability, PhaseMTLSStrict, PhaseTraffic, PhaseAuthz}

// Labels on every resource a phase owns: only objects carrying both are
// ever changed or deleted by a phase change, so nothing a user created is
// touched.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPhase     = "meshpack.lattice.dev/phase"
)

// PhaseRank is the position of phase in Phases, or -1.
func PhaseRank(phase string) int { return slices.Index(Phases, phase) }

// PhaseConfig is what the phase resources depend on.
type PhaseConfig struct {
	// Namespace is the control plane's (the mesh's root namespace).
	Namespace string
	Profile   string
	// Enrolled are the namespaces in the mesh (authz allows same-namespace
	// traffic in each).
	Enrolled []string
	// Waypoints are ambient namespaces that get a waypoint (traffic phase).
	Waypoints []string
}

var (
	gvrPeerAuthentication  = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	gvrAuthorizationPolicy = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}
	gvrTelemetry           = schema.GroupVersionResource{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"}
	gvrDestinationRule     = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	gvrGateway             = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
)

// phaseGVRs are the kinds phases create, with their resources.
var phaseGVRs = map[string]schema.GroupVersionResource{
	"PeerAuthentication": gvrPeerAuthentication, "AuthorizationPolicy": gvrAuthorizationPolicy,
	"Telemetry": gvrTelemetry, "DestinationRule": gvrDestinationRule, "Gateway": gvrGateway,
}

// PhaseObjects returns the resources of phase (and the phases before it),
// sorted by kind, namespace and name.
func PhaseObjects(phase string, cfg PhaseConfig) ([]*unstructured.Unstructured, error) {
	rank := PhaseRank(phase)
	if rank < 0 {
		return nil, fmt.Errorf("phase %q: want one of %s", phase, strings.Join(Phases, ", "))
	}
	root := cfg.Namespace
	var out []*unstructured.Unstructured
	add := func(p, apiVersion, kind, ns, name string, spec map[string]any) {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": spec}}
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetLabels(map[string]string{LabelManagedBy: FieldManager, LabelPhase: p})
		out = append(out, u)
	}
	mode := "PERMISSIVE"
	if rank >= PhaseRank(PhaseMTLSStrict) {
		mode = "STRICT"
	}
	mtlsPhase := PhaseObservability
	if mode == "STRICT" {
		mtlsPhase = PhaseMTLSStrict
	}
	// observability: mesh-wide mTLS (PERMISSIVE until mtls-strict), metrics and access logs.
	// The metrics provider "prometheus" is Istio's built-in one: proxies and
	// ztunnel expose Prometheus metrics with the prometheus.io scrape
	// annotations, which the scrape config of the Prometheus install puts
	// beside Kiali (Istio's samples/addons/prometheus.yaml) reads. That
	// Prometheus runs in the root namespace, outside the mesh, which the
	// mtls-strict check (outsideMesh) leaves out.
	add(mtlsPhase, "security.istio.io/v1", "PeerAuthentication", root, "meshpack-mesh-mtls", map[string]any{"mtls": map[string]any{"mode": mode}})
	add(PhaseObservability, "telemetry.istio.io/v1", "Telemetry", root, "meshpack-mesh-telemetry", map[string]any{
		"metrics":       []any{map[string]any{"providers": []any{map[string]any{"name": "prometheus"}}}},
		"accessLogging": []any{map[string]any{"providers": []any{map[string]any{"name": "envoy"}}}},
	})
	if rank >= PhaseRank(PhaseTraffic) {
		add(PhaseTraffic, "gateway.networking.k8s.io/v1", "Gateway", "istio-ingress", "meshpack-ingress", map[string]any{
			"gatewayClassName": "istio",
			"listeners": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP",
				"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}}}},
		})
		add(PhaseTraffic, "networking.istio.io/v1", "DestinationRule", root, "meshpack-mesh-defaults", map[string]any{
			"host": "*.local",
			"trafficPolicy": map[string]any{
				"connectionPool":   map[string]any{"tcp": map[string]any{"maxConnections": int64(1024)}, "http": map[string]any{"http2MaxRequests": int64(1024), "maxRequestsPerConnection": int64(0)}},
				"outlierDetection": map[string]any{"consecutive5xxErrors": int64(5), "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": int64(50)},
			},
		})
		for _, ns := range cfg.Waypoints {
			add(PhaseTraffic, "gateway.networking.k8s.io/v1", "Gateway", ns, "waypoint", map[string]any{
				"gatewayClassName": "istio-waypoint",
				"listeners":        []any{map[string]any{"name": "mesh", "port": int64(15008), "protocol": "HBONE"}},
			})
		}
	}
	if rank >= PhaseRank(PhaseAuthz) {
		// An ALLOW policy with no rules in the root namespace denies
		// everything no other ALLOW policy admits.
		add(PhaseAuthz, "security.istio.io/v1", "AuthorizationPolicy", root, "meshpack-default-deny", map[string]any{})
		add(PhaseAuthz, "security.istio.io/v1", "AuthorizationPolicy", root, "meshpack-allow-mesh-components", map[string]any{
			"action": "ALLOW",
			"rules":  []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{"namespaces": []any{root, "istio-ingress", "kube-system"}}}}}},
		})
		for _, ns := range cfg.Enrolled {
			add(PhaseAuthz, "security.istio.io/v1", "AuthorizationPolicy", ns, "meshpack-allow-same-namespace", map[string]any{
				"action": "ALLOW",
				"rules":  []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{"namespaces": []any{ns}}}}}},
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return objKey(out[i]) < objKey(out[j]) })
	return out, nil
}

func objKey(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// PhaseManifest renders the resources of phase as one multi-document YAML
// file, what phase set applies, for GitOps.
func PhaseManifest(phase string, cfg PhaseConfig) ([]byte, error) {
	objs, err := PhaseObjects(phase, cfg)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# meshpack adoption phase %s (with the resources of the phases before it); apply it server-side\n", phase)
	for _, u := range objs {
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "---\n%s", y)
	}
	return buf.Bytes(), nil
}

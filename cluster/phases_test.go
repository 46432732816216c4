package cluster

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestPhaseObjects: each phase holds the resources of the phases before
// it, mTLS turns STRICT from mtls-strict on, waypoints and same-namespace
// allow rules follow the configuration, and every object carries
// meshpack's labels.
func TestPhaseObjects(t *testing.T) {
	cfg := PhaseConfig{Namespace: "istio-system", Profile: "ambient", Enrolled: []string{"team-a"}, Waypoints: []string{"team-a"}}
	for _, tc := range []struct {
		phase string
		mode  string
		want  []string
	}{
		{PhaseObservability, "PERMISSIVE", []string{"PeerAuthentication istio-system/meshpack-mesh-mtls", "Telemetry istio-system/meshpack-mesh-telemetry"}},
		{PhaseMTLSStrict, "STRICT", []string{"PeerAuthentication istio-system/meshpack-mesh-mtls", "Telemetry istio-system/meshpack-mesh-telemetry"}},
		{PhaseTraffic, "STRICT", []string{"DestinationRule istio-system/meshpack-mesh-defaults", "Gateway istio-ingress/meshpack-ingress", "Gateway team-a/waypoint",
			"PeerAuthentication istio-system/meshpack-mesh-mtls", "Telemetry istio-system/meshpack-mesh-telemetry"}},
		{PhaseAuthz, "STRICT", []string{"AuthorizationPolicy istio-system/meshpack-allow-mesh-components", "AuthorizationPolicy istio-system/meshpack-default-deny",
			"AuthorizationPolicy team-a/meshpack-allow-same-namespace", "DestinationRule istio-system/meshpack-mesh-defaults", "Gateway istio-ingress/meshpack-ingress",
			"Gateway team-a/waypoint", "PeerAuthentication istio-system/meshpack-mesh-mtls", "Telemetry istio-system/meshpack-mesh-telemetry"}},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			objs, err := PhaseObjects(tc.phase, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range objs {
				got = append(got, objKey(u))
				if l := u.GetLabels(); l[LabelManagedBy] != FieldManager || l[LabelPhase] == "" {
					t.Errorf("%s labels %v", objKey(u), l)
				}
				if u.GetKind() == "PeerAuthentication" {
					if m, _, _ := unstructured.NestedString(u.Object, "spec", "mtls", "mode"); m != tc.mode {
						t.Errorf("mTLS mode %s, want %s", m, tc.mode)
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if _, err := PhaseObjects("strict", cfg); err == nil || !strings.Contains(err.Error(), "want one of observability, mtls-strict, traffic, authz") {
		t.Errorf("unknown phase: %v", err)
	}
}

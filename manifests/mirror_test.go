package manifests

import "testing"

func TestMirrorsRewrite(t *testing.T) {
	ms := Mirrors{
		{Origin: "docker.io", Replacement: "nexus.example.com/dockerhub"},
		{Origin: "docker.io/istio", Replacement: "http://127.0.0.1:5000/istio-mirror"},
		{Origin: "https://kiali.org/helm-charts", Replacement: "https://nexus.example.com/repository/kiali"},
		{Origin: "quay.io/", Replacement: "quay.example.com/"},
	}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"docker.io/library/app:1", "nexus.example.com/dockerhub/library/app:1", true},
		{"docker.io/istio/pilot:1.30.3", "http://127.0.0.1:5000/istio-mirror/pilot:1.30.3", true}, // longest origin wins
		{"docker.io/istiox/pilot:1", "nexus.example.com/dockerhub/istiox/pilot:1", true},          // path boundary
		{"docker.io.example.com/app:1", "docker.io.example.com/app:1", false},                     // host boundary
		{"docker.io@sha256:abc", "nexus.example.com/dockerhub@sha256:abc", true},
		{"https://kiali.org/helm-charts/index.yaml", "https://nexus.example.com/repository/kiali/index.yaml", true},
		{"https://kiali.org/helm-charts-old/index.yaml", "https://kiali.org/helm-charts-old/index.yaml", false},
		{"quay.io/kiali/kiali:v2.26.0", "quay.example.com/kiali/kiali:v2.26.0", true},
		{"ghcr.io/x/y:1", "ghcr.io/x/y:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ms.Rewrite(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Rewrite(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseMirror(t *testing.T) {
	tests := []struct {
		in      string
		want    Mirror
		wantErr bool
	}{
		{"docker.io=nexus.example.com/dockerhub", Mirror{"docker.io", "nexus.example.com/dockerhub"}, false},
		{" https://kiali.org/helm-charts/ = http://127.0.0.1:8080/kiali/ ", Mirror{"https://kiali.org/helm-charts", "http://127.0.0.1:8080/kiali"}, false},
		{"docker.io", Mirror{}, true},
		{"=x", Mirror{}, true},
		{"x=", Mirror{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMirror(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseMirror(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

package render

import (
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
)

// TestDiscoverManifestImages parses manifests of every workload kind: the
// images of containers, init containers and ephemeral containers of their
// pod templates are found, normalized; "image:" anywhere else (a
// ConfigMap, an annotation, a comment) is not an image.
func TestDiscoverManifestImages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		manifest string
		images   []string
		err      string
	}{
		{
			name: "deployment with init container",
			manifest: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {note: "image: not/this:1"}}
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox:1.36}]
      containers: [{name: web, image: ghcr.io/acme/web:2.0}]
`,
			images: []string{"docker.io/library/busybox:1.36", "ghcr.io/acme/web:2.0"},
		},
		{
			name: "every workload kind",
			manifest: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: a, image: a.example.com/pod:1}], ephemeralContainers: [{name: dbg, image: a.example.com/debug:1}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec: {template: {spec: {containers: [{name: a, image: a.example.com/ds:1}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec: {template: {spec: {containers: [{name: a, image: a.example.com/sts:1}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec: {template: {spec: {containers: [{name: a, image: a.example.com/job:1}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: "a.example.com/cron@sha256:` + strings.Repeat("ab", 32) + `"}]}}}}}
`,
			images: []string{"a.example.com/cron@sha256:" + strings.Repeat("ab", 32), "a.example.com/debug:1", "a.example.com/ds:1", "a.example.com/job:1", "a.example.com/pod:1", "a.example.com/sts:1"},
		},
		{
			name: "list, duplicates, and image text that is not an image",
			manifest: `# image: commented/out:1
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a}
  spec: {template: {spec: {containers: [{name: a, image: "nginx:1.27"}]}}}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: b}
  spec: {template: {spec: {containers: [{name: b, image: "docker.io/library/nginx:1.27"}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {image: "not/an-image:1", app.yaml: "image: also/not:2"}
---
`,
			images: []string{"docker.io/library/nginx:1.27"},
		},
		{name: "no workload", manifest: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"},
		{name: "not yaml", manifest: "kind: Deployment\n---\nkind: [unclosed\n", err: "manifest app.yaml: document 2"},
		{name: "bad image", manifest: "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: 'acme/App:1'}]}\n", err: "Pod p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs, err := DiscoverManifestImages([]byte(tc.manifest), "app.yaml", "manifest:app.yaml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range imgs {
				got = append(got, img.Reference)
				if !slices.Equal(img.Components, []string{"manifest:app.yaml"}) {
					t.Errorf("%s: components %v", img.Reference, img.Components)
				}
			}
			if !slices.Equal(got, tc.images) {
				t.Errorf("images %v, want %v", got, tc.images)
			}
		})
	}
}

// TestDiscoverChartImages renders a small chart: the image tag comes from
// the chart's appVersion (only rendering finds it), a container behind a
// value is found only when the values turn it on, and a chart whose
// template fails says which chart.
func TestDiscoverChartImages(t *testing.T) {
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "webapp", Version: "0.3.0", AppVersion: "1.4.0"},
		Values:   map[string]any{"image": "ghcr.io/acme/webapp", "sidecar": map[string]any{"enabled": false}},
		Templates: []*chart.File{{Name: "templates/deploy.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  template:
    spec:
      containers:
      - {name: app, image: "{{ .Values.image }}:{{ .Chart.AppVersion }}"}
      {{- if .Values.sidecar.enabled }}
      - {name: side, image: {{ required "sidecar.image is required" .Values.sidecar.image | quote }}}
      {{- end }}
`)}},
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		images []string
		err    string
	}{
		{name: "defaults", images: []string{"ghcr.io/acme/webapp:1.4.0"}},
		{name: "values turn the sidecar on", values: map[string]any{"sidecar": map[string]any{"enabled": true, "image": "ghcr.io/acme/side:3"}}, images: []string{"ghcr.io/acme/side:3", "ghcr.io/acme/webapp:1.4.0"}},
		{name: "required value missing", values: map[string]any{"sidecar": map[string]any{"enabled": true}}, err: "sidecar.image is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs, err := DiscoverChartImages(ch, tc.values, "chart:webapp")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "webapp") {
					t.Fatalf("err %v, want one naming the chart and %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range imgs {
				got = append(got, img.Reference)
			}
			if !slices.Equal(got, tc.images) {
				t.Errorf("images %v, want %v", got, tc.images)
			}
		})
	}
}

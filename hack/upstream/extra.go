package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/yaml"
)

// A team's own content that meshpack carries beside the mesh (issue 13's
// user content): the "webapp" Helm chart, served from a classic HTTP
// repository and as an OCI chart, the images it renders, a workload image
// for manifests, and a plain file. The names are invented, like the team
// that would publish them, at example.com names (RFC 2606).
const (
	// UserSite is the upstream origin of the user chart repository and
	// file; Mirrors redirects it to the fixture.
	UserSite = "https://downloads.example.com"
	// UserChartRepo is the HTTP Helm repository of the webapp chart.
	UserChartRepo = UserSite + "/charts"
	// UserOCICharts is the OCI location of the same chart
	// (oci://harbor.example.com/team/charts/webapp).
	UserOCICharts = "harbor.example.com/team/charts"
	// UserFileURL is a plain file a team carries (a dashboard definition).
	UserFileURL = UserSite + "/files/mesh-dashboard.json"
	// UserExporterImage is the image the webapp chart renders only with
	// metrics.enabled=true.
	UserExporterImage = "harbor.example.com/team/webapp-exporter:0.9.0"
	// UserWorkerImage is a workload image published for manifests that
	// tests carry.
	UserWorkerImage = "harbor.example.com/team/worker:2.1.0"
)

// userChartVersions maps each published webapp chart version to its
// appVersion, which is the tag of harbor.example.com/team/webapp it renders.
var userChartVersions = []struct{ version, appVersion string }{
	{"0.3.0", "1.4.0"},
	{"0.4.0", "1.5.0"},
}

// UserChartImage is the image webapp chart version renders with its
// default values, or "" for a version the fixture does not publish.
func UserChartImage(version string) string {
	for _, v := range userChartVersions {
		if v.version == version {
			return "harbor.example.com/team/webapp:" + v.appVersion
		}
	}
	return ""
}

// userImages are the images of the user content, published unsigned.
func userImages() []string {
	out := []string{UserExporterImage, UserWorkerImage}
	for _, v := range userChartVersions {
		out = append(out, UserChartImage(v.version))
	}
	return out
}

const webappValues = `replicaCount: 1
image:
  repository: harbor.example.com/team/webapp
  # tag defaults to the chart's appVersion
  tag: ""
metrics:
  enabled: false
  image: harbor.example.com/team/webapp-exporter:0.9.0
service:
  port: 8080
`

const webappDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-webapp
  labels:
    app.kubernetes.io/name: webapp
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: webapp
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: webapp
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
      - name: webapp
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
        ports:
        - containerPort: {{ .Values.service.port }}
      {{- if .Values.metrics.enabled }}
      - name: exporter
        image: {{ .Values.metrics.image | quote }}
      {{- end }}
`

const webappService = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-webapp
spec:
  selector:
    app.kubernetes.io/name: webapp
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
  - port: {{ .Values.service.port }}
`

// userFile is the content served at UserFileURL.
const userFile = `{"title": "mesh overview", "panels": [{"type": "graph", "query": "istio_requests_total"}]}
`

// buildUserCharts packages every webapp chart version.
func buildUserCharts() ([]builtChart, error) {
	var out []builtChart
	for _, v := range userChartVersions {
		chartYAML := fmt.Sprintf("apiVersion: v2\nname: webapp\ndescription: A team's web application (a meshpack fixture)\ntype: application\nversion: %s\nappVersion: %q\n", v.version, v.appVersion)
		files := []chartFile{
			{path: "Chart.yaml", data: []byte(chartYAML)},
			{path: "values.yaml", data: []byte(webappValues)},
			{path: "templates/deployment.yaml", data: []byte(webappDeployment)},
			{path: "templates/service.yaml", data: []byte(webappService)},
		}
		meta, err := chartMetadata(files)
		if err != nil {
			return nil, fmt.Errorf("chart webapp %s: %w", v.version, err)
		}
		tgz, err := packageChart("webapp", files)
		if err != nil {
			return nil, err
		}
		out = append(out, builtChart{meta: meta, tgz: tgz})
	}
	return out, nil
}

// addUserContent serves the webapp charts' HTTP repository and the user
// file below /downloads.example.com (see Mirrors).
func (st *site) addUserContent() error {
	charts, err := buildUserCharts()
	if err != nil {
		return err
	}
	st.user = charts
	idx := repoIndex{APIVersion: "v1", Entries: map[string][]indexEntry{}, Generated: epoch.Format(time.RFC3339Nano)}
	for i := len(charts) - 1; i >= 0; i-- { // newest first, as helm repo index writes it
		c := charts[i]
		sum := sha256.Sum256(c.tgz)
		file := fmt.Sprintf("%s-%s.tgz", c.meta.Name, c.meta.Version)
		idx.Entries[c.meta.Name] = append(idx.Entries[c.meta.Name], indexEntry{
			chartMeta: c.meta, Created: epoch.Format(time.RFC3339Nano), Digest: hex.EncodeToString(sum[:]),
			URLs: []string{UserChartRepo + "/" + file},
		})
		st.paths[userPath(UserChartRepo+"/"+file)] = c.tgz
	}
	b, err := yaml.Marshal(idx)
	if err != nil {
		return fmt.Errorf("user helm index: %w", err)
	}
	st.paths[userPath(UserChartRepo+"/index.yaml")] = b
	st.paths[userPath(UserFileURL)] = []byte(userFile)
	return nil
}

// userPath is where the fixture serves an upstream URL below UserSite.
func userPath(u string) string { return "/downloads.example.com" + strings.TrimPrefix(u, UserSite) }

// userChartInfos pushes the webapp charts as OCI charts and describes them.
func (st *site) userChartInfos(ctx context.Context, s *seeder, base string) ([]ChartInfo, error) {
	var out []ChartInfo
	for _, c := range st.user {
		repo := UserOCICharts + "/" + c.meta.Name
		desc, err := s.pushChart(ctx, repo, c)
		if err != nil {
			return nil, err
		}
		u := fmt.Sprintf("%s/%s-%s.tgz", UserChartRepo, c.meta.Name, c.meta.Version)
		out = append(out, ChartInfo{
			Name: c.meta.Name, Version: c.meta.Version, URL: u, LocalURL: base + userPath(u),
			Digest: digest.FromBytes(c.tgz), Size: int64(len(c.tgz)),
			OCIReference: repo + ":" + c.meta.Version, OCIDigest: desc.Digest,
		})
	}
	return out, nil
}

// userFileInfos describes the user file.
func (st *site) userFileInfos(base string) []FileInfo {
	b := st.paths[userPath(UserFileURL)]
	return []FileInfo{{Name: "mesh-dashboard.json", URL: UserFileURL, LocalURL: base + userPath(UserFileURL), Digest: digest.FromBytes(b), Size: int64(len(b))}}
}

// user plans the images of the user content (once each, also when
// Options.ExtraImages names them).
func (p *planner) user(scale float64) error {
	for _, ref := range userImages() {
		if slices.Contains(p.opts.ExtraImages, ref) {
			continue
		}
		if err := p.extra(ref, scale); err != nil {
			return err
		}
	}
	return nil
}

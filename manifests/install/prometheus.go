package install

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// The Prometheus a bundle carries for Kiali (Istio's
// samples/addons/prometheus.yaml): its step, Helm release, Service and port.
const (
	StepPrometheus    = render.ComponentPrometheus
	PrometheusService = "prometheus"
	PrometheusPort    = 9090
)

// prometheusManifest is the file the generated chart's one template reads
// verbatim (.Files.Get does not run the template engine over it).
const prometheusManifest = "files/prometheus.yaml"

// addPrometheus adds the step installing the Prometheus the bundle carries
// (before kiali-server) and returns the URL Kiali reads: Options.PrometheusURL
// when given (nothing is installed then), else the carried Prometheus's
// in-cluster Service, else the URL the bundle's spec named
// (kiali.prometheusURL), else http://prometheus.NAMESPACE:9090.
func (p *Plan) addPrometheus(ctx context.Context, src Source, c *contents, opts Options) (string, error) {
	if opts.PrometheusURL != "" {
		return opts.PrometheusURL, nil
	}
	inCluster := manifests.PrometheusServiceURL(PrometheusService, opts.Namespace, PrometheusPort)
	a, lf, ok := c.prometheusFile()
	if !ok {
		if u := c.lock.Spec.Kiali.PrometheusURL; u != "" {
			return u, nil
		}
		return inCluster, nil
	}
	data, err := src.File(ctx, a)
	if err != nil {
		return "", err
	}
	ch, err := prometheusChart(data, lf.Version, c, opts)
	if err != nil {
		return "", fmt.Errorf("install plan: the bundle's Prometheus (%s of Istio %s): %w", lf.Name, lf.Version, err)
	}
	rel, ns := releaseOf(StepPrometheus, opts.Namespace)
	p.Steps = append(p.Steps, Step{Name: StepPrometheus, Release: rel, Namespace: ns, Chart: ch, Values: map[string]any{}})
	return inCluster, nil
}

// prometheusFile returns the Prometheus manifest artifact and its lock
// entry, when the bundle carries one.
func (c *contents) prometheusFile() (bundle.Artifact, manifests.LockedFile, bool) {
	for _, a := range c.files {
		if a.Repository != "files/"+render.ComponentPrometheus {
			continue
		}
		for _, lf := range c.lock.Files {
			if lf.Component == render.ComponentPrometheus && lf.Name == a.Name {
				return a, lf, true
			}
		}
	}
	return bundle.Artifact{}, manifests.LockedFile{}, false
}

// prometheusChart makes a Helm chart of the manifest, so that the
// Prometheus is a release like every other step (upgrade, uninstall,
// history, the same pin check): every namespaced object moved to
// opts.Namespace (and the ClusterRoleBinding's ServiceAccount with it),
// every container image replaced by REGISTRY/…@sha256 of the bundle's
// digest, the pull secret added. The chart is named prometheus, versioned
// by the Istio release the manifest comes from, its appVersion the
// Prometheus image's tag.
func prometheusChart(data []byte, istio string, c *contents, opts Options) (*chart.Chart, error) {
	objs, err := render.ParseObjects(string(data))
	if err != nil {
		return nil, err
	}
	if err := render.HasServicePort(objs, PrometheusService, PrometheusPort); err != nil {
		return nil, fmt.Errorf("%w: Kiali could not reach it", err)
	}
	var out bytes.Buffer
	appVersion := ""
	for _, o := range objs {
		m := o.Data
		if md, _ := m["metadata"].(map[string]any); md != nil && md["namespace"] != nil {
			md["namespace"] = opts.Namespace
		}
		if o.Kind() == "ClusterRoleBinding" {
			subjects, _ := m["subjects"].([]any)
			for _, s := range subjects {
				if sm, _ := s.(map[string]any); sm != nil && sm["kind"] == "ServiceAccount" {
					sm["namespace"] = opts.Namespace
				}
			}
		}
		if spec := podSpec(m); spec != nil {
			tag, err := pinContainers(spec, c, opts)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", o.Kind(), o.Name(), err)
			}
			if tag != "" {
				appVersion = tag
			}
			if opts.ImagePullSecret != "" {
				spec["imagePullSecrets"] = []any{map[string]any{"name": opts.ImagePullSecret}}
			}
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&out, "---\n%s", y)
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion: chart.APIVersionV2, Name: StepPrometheus, Version: istio, AppVersion: appVersion, Type: "application",
			Description: "Istio " + istio + "'s samples/addons/prometheus.yaml (the Prometheus Kiali reads), images pinned by meshpack",
		},
		Templates: []*chart.File{{Name: "templates/prometheus.yaml", Data: []byte(`{{ .Files.Get "` + prometheusManifest + `" }}`)}},
		Files:     []*chart.File{{Name: prometheusManifest, Data: out.Bytes()}},
	}
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	return ch, nil
}

// podSpec returns the pod spec of a workload object, or nil.
func podSpec(m map[string]any) map[string]any {
	kind, _ := m["kind"].(string)
	spec, _ := m["spec"].(map[string]any)
	switch kind {
	case "Pod":
		return spec
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		tmpl, _ := spec["template"].(map[string]any)
		ps, _ := tmpl["spec"].(map[string]any)
		return ps
	}
	return nil
}

// pinContainers replaces the image of every (init) container of spec by
// its pinned reference and returns the tag of the prometheus server image
// ("" when spec runs none).
func pinContainers(spec map[string]any, c *contents, opts Options) (string, error) {
	tag := ""
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, x := range list {
			cm, _ := x.(map[string]any)
			img, _ := cm["image"].(string)
			if img == "" {
				continue
			}
			norm, err := manifests.NormalizeImage(img)
			if err != nil {
				return "", err
			}
			d, ok := c.digests[norm]
			if !ok {
				return "", fmt.Errorf("image %s has no digest in the bundle's BOM; resolve and create the bundle again", norm)
			}
			cm["image"] = targetRepo(opts.Registry, c.repos[norm], opts.PathMode) + "@" + d
			if repo, t, ok := strings.Cut(norm[strings.LastIndex(norm, "/")+1:], ":"); ok && repo == "prometheus" {
				tag = t
			}
		}
	}
	return tag, nil
}

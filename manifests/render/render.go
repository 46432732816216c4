package render

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// defaultKubeVersion is what charts see when a request names none.
const defaultKubeVersion = "v1.32.0"

// Rendered is the output of one chart: rendered template path (e.g.
// "istiod/templates/deployment.yaml") to its text.
type Rendered map[string]string

// Release names the Helm release a chart is rendered for. The zero value
// works: name and namespace default to DefaultRelease of the chart.
type Release struct {
	Name      string
	Namespace string
	// KubeVersion is the Kubernetes version charts see, e.g. "1.32" or
	// "v1.32.4"; empty is v1.32.0.
	KubeVersion string
}

// Chart renders ch offline, as `helm template` would (no cluster: `lookup`
// returns nothing), with vals as the user values.
func Chart(ch *chart.Chart, vals map[string]any, rel Release) (Rendered, error) {
	kv, err := parseKubeVersion(rel.KubeVersion)
	if err != nil {
		return nil, err
	}
	name, namespace := DefaultRelease(ch.Name())
	if rel.Name != "" {
		name = rel.Name
	}
	if rel.Namespace != "" {
		namespace = rel.Namespace
	}
	caps := &chartutil.Capabilities{
		KubeVersion: *kv,
		APIVersions: chartutil.DefaultVersionSet,
		HelmVersion: chartutil.DefaultCapabilities.HelmVersion,
	}
	opts := chartutil.ReleaseOptions{Name: name, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: values: %w", ch.Name(), ch.Metadata.Version, err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: render: %w", ch.Name(), ch.Metadata.Version, err)
	}
	return out, nil
}

func parseKubeVersion(in string) (*chartutil.KubeVersion, error) {
	v := in
	if v == "" {
		v = defaultKubeVersion
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	kv, err := chartutil.ParseKubeVersion(v)
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q: want a version like 1.32 or v1.32.4: %w", in, err)
	}
	return kv, nil
}

// Objects parses every YAML document of the rendered output, in sorted file
// order, skipping NOTES.txt and empty documents.
func (r Rendered) Objects() ([]Object, error) {
	files := make([]string, 0, len(r))
	for f := range r {
		if !strings.HasSuffix(f, "NOTES.txt") {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	var out []Object
	for _, f := range files {
		dec := yaml.NewDecoder(strings.NewReader(r[f]))
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("rendered %s: %w", f, err)
			}
			if len(m) > 0 {
				out = append(out, Object{File: f, Data: m})
			}
		}
	}
	return out, nil
}

// Object is one rendered Kubernetes object.
type Object struct {
	// File is the template it came from, e.g. "istiod/templates/deployment.yaml".
	File string
	Data map[string]any
}

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o.Data["kind"].(string); return s }

// Name returns metadata.name.
func (o Object) Name() string { s, _ := lookup(o.Data, "metadata", "name").(string); return s }

// podSpecPath says where each workload kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// Images returns the image of every container, init container and ephemeral
// container of the object's pod spec (none for non-workloads).
func (o Object) Images() []string {
	p, ok := podSpecPath[o.Kind()]
	if !ok {
		return nil
	}
	spec, _ := lookup(o.Data, p...).(map[string]any)
	var out []string
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			cm, _ := c.(map[string]any)
			if img, ok := cm["image"].(string); ok && img != "" {
				out = append(out, img)
			}
		}
	}
	return out
}

func lookup(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// KubeVersion parses a Kubernetes version as Release.KubeVersion takes it
// ("1.32", "v1.32.4"; empty is the default charts see offline).
func KubeVersion(in string) (*chartutil.KubeVersion, error) { return parseKubeVersion(in) }

// ParseObjects parses a multi-document YAML stream (a Helm release
// manifest) into objects, each with the "# Source:" template it came from.
func ParseObjects(manifest string) ([]Object, error) {
	var out []Object
	for _, doc := range strings.Split("\n"+manifest, "\n---") {
		src := ""
		for _, line := range strings.Split(doc, "\n") {
			if s, ok := strings.CutPrefix(line, "# Source: "); ok {
				src = s
				break
			}
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, fmt.Errorf("manifest of %s: %w", src, err)
		}
		if len(m) > 0 {
			out = append(out, Object{File: src, Data: m})
		}
	}
	return out, nil
}

package render

import (
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
)

// DiscoverChartImages renders a user's chart offline (as `helm template`
// does, with the chart's default values overlaid by vals) and returns the
// image of every container of every rendered workload, deduplicated and
// sorted, each with component. A chart that renders no image yields none:
// it may carry only configuration.
func DiscoverChartImages(ch *chart.Chart, vals map[string]any, component string) ([]Image, error) {
	out, err := Chart(ch, vals, Release{Name: ch.Name(), Namespace: "default"})
	if err != nil {
		return nil, err
	}
	objs, err := out.withImages().Objects()
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", ch.Name(), ch.Metadata.Version, err)
	}
	set := imageSet{}
	for _, o := range expandLists(objs) {
		for _, img := range o.Images() {
			if err := set.add(img, []string{component}, "rendered:"+o.File); err != nil {
				return nil, fmt.Errorf("chart %s %s: %s %s: %w", ch.Name(), ch.Metadata.Version, o.Kind(), o.Name(), err)
			}
		}
	}
	return set.list(), nil
}

// DiscoverManifestImages parses a multi-document Kubernetes YAML manifest
// and returns the image of every container, init container and ephemeral
// container of its Pods, Deployments, DaemonSets, StatefulSets,
// ReplicaSets, Jobs and CronJobs (also inside a kind: List), deduplicated
// and sorted, each with component. name labels errors. A document that is
// not YAML fails; other kinds are ignored.
func DiscoverManifestImages(manifest []byte, name, component string) ([]Image, error) {
	var objs []Object
	dec := yaml.NewDecoder(strings.NewReader(string(manifest)))
	for doc := 1; ; doc++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s: document %d: %w", name, doc, err)
		}
		if len(m) > 0 {
			objs = append(objs, Object{File: fmt.Sprintf("%s#%d", name, doc), Data: m})
		}
	}
	set := imageSet{}
	for _, o := range expandLists(objs) {
		for _, img := range o.Images() {
			if err := set.add(img, []string{component}, "manifest:"+o.Kind()+"/"+o.Name()); err != nil {
				return nil, fmt.Errorf("manifest %s: %s %s: %w", name, o.Kind(), o.Name(), err)
			}
		}
	}
	return set.list(), nil
}

// expandLists replaces every kind: List (or *List, as kubectl writes them)
// by its items.
func expandLists(objs []Object) []Object {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		items, isList := o.Data["items"].([]any)
		if !isList || !strings.HasSuffix(o.Kind(), "List") {
			out = append(out, o)
			continue
		}
		var inner []Object
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				inner = append(inner, Object{File: o.File, Data: m})
			}
		}
		out = append(out, expandLists(inner)...)
	}
	return out
}

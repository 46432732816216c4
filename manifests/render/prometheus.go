package render

import (
	"fmt"
	"strings"
)

// ComponentPrometheus is the component of the Prometheus Kiali reads.
const ComponentPrometheus = "prometheus"

// DiscoverPrometheusImages reads the Prometheus manifest Istio ships for
// Kiali (samples/addons/prometheus.yaml, plain YAML, no templates) and
// returns the image of every container of its workloads, sorted. It fails
// when the manifest defines no Service named service with port (the URL
// Kiali is given would then lead nowhere) or no workload image.
func DiscoverPrometheusImages(manifest []byte, service string, port int) ([]Image, error) {
	objs, err := ParseObjects(string(manifest))
	if err != nil {
		return nil, fmt.Errorf("prometheus manifest: %w", err)
	}
	if err := HasServicePort(objs, service, port); err != nil {
		return nil, fmt.Errorf("prometheus manifest: %w", err)
	}
	set := imageSet{}
	for _, o := range objs {
		for _, img := range o.Images() {
			if err := set.add(img, []string{ComponentPrometheus}, "manifest:"+o.Kind()+"/"+o.Name()); err != nil {
				return nil, fmt.Errorf("prometheus manifest: %s %s: %w", o.Kind(), o.Name(), err)
			}
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("prometheus manifest: no workload with an image")
	}
	return set.list(), nil
}

// HasServicePort checks that objs define a Service named name that
// exposes port.
func HasServicePort(objs []Object, name string, port int) error {
	var kinds []string
	for _, o := range objs {
		if o.Kind() != "Service" || o.Name() != name {
			continue
		}
		ports, _ := lookup(o.Data, "spec", "ports").([]any)
		for _, p := range ports {
			pm, _ := p.(map[string]any)
			switch n := pm["port"].(type) {
			case int:
				if n == port {
					return nil
				}
			case float64:
				if int(n) == port {
					return nil
				}
			}
		}
		return fmt.Errorf("Service %s does not expose port %d", name, port)
	}
	for _, o := range objs {
		kinds = append(kinds, o.Kind()+"/"+o.Name())
	}
	return fmt.Errorf("no Service %s (it has %s)", name, strings.Join(kinds, ", "))
}

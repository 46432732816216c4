package install

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/manifests/render"
)

// UserValues are values a user layers over a chart's pinned values, per
// chart name (base, istiod, cni, ztunnel, gateway, kiali-server).
type UserValues map[string]map[string]any

// ParseUserValues reads "CHART=FILE" value files and then "CHART.key=value"
// settings (Helm's --set syntax after the chart name), later ones winning,
// as helm applies -f and --set.
func ParseUserValues(files, sets []string) (UserValues, error) {
	uv := UserValues{}
	for _, f := range files {
		chart, path, ok := strings.Cut(f, "=")
		if !ok || chart == "" || path == "" {
			return nil, fmt.Errorf("values %q: want CHART=FILE, e.g. istiod=istiod-values.yaml", f)
		}
		if err := checkChartName(chart); err != nil {
			return nil, fmt.Errorf("values %q: %w", f, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("values for %s: %w", chart, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("values for %s: %s: %w", chart, path, err)
		}
		uv[chart] = chartutil.MergeTables(m, uv.of(chart))
	}
	for _, s := range sets {
		chart, kv, ok := strings.Cut(s, ".")
		if !ok || !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("set %q: want CHART.key=value, e.g. istiod.pilot.resources.requests.cpu=500m", s)
		}
		if err := checkChartName(chart); err != nil {
			return nil, fmt.Errorf("set %q: %w", s, err)
		}
		m := uv.of(chart)
		if err := strvals.ParseInto(kv, m); err != nil {
			return nil, fmt.Errorf("set %q: %w", s, err)
		}
		uv[chart] = m
	}
	return uv, nil
}

func (uv UserValues) of(chart string) map[string]any {
	if m, ok := uv[chart]; ok {
		return m
	}
	return map[string]any{}
}

// chartNames are the charts an install may have.
var chartNames = []string{render.ChartBase, render.ChartIstiod, render.ChartCNI, render.ChartZtunnel, render.ChartGateway, render.ChartKiali}

func checkChartName(name string) error {
	for _, n := range chartNames {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("chart %q: want one of %s", name, strings.Join(chartNames, ", "))
}

// layer puts user values over pinned values and returns the result and a
// warning for every pinned value the user changed. The pin check on the
// rendered objects still refuses an image that is not a bundle digest: a
// user value can re-pin an image but never unpin one silently.
func layer(chart string, pinned, user map[string]any) (map[string]any, []string) {
	if len(user) == 0 {
		return pinned, nil
	}
	before := flatten("", pinned, map[string]any{})
	merged := chartutil.MergeTables(deepCopy(user), pinned)
	after := flatten("", merged, map[string]any{})
	var warns []string
	for k, v := range before {
		if !reflect.DeepEqual(after[k], v) {
			warns = append(warns, fmt.Sprintf("%s: user values change %s from %v to %v, which meshpack set to pin images or the install's shape", chart, k, v, after[k]))
		}
	}
	sort.Strings(warns)
	return merged, warns
}

func flatten(prefix string, m map[string]any, out map[string]any) map[string]any {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// pullSecretValues are the values that make every workload of chart use
// image pull secret name, in each chart's own key.
func pullSecretValues(chart, name string) map[string]any {
	switch chart {
	case render.ChartGateway:
		return map[string]any{"imagePullSecrets": []any{map[string]any{"name": name}}}
	case render.ChartKiali:
		return map[string]any{"deployment": map[string]any{"image_pull_secrets": []any{name}}}
	case render.ChartZtunnel:
		return map[string]any{"imagePullSecrets": []any{name}}
	}
	return map[string]any{"global": map[string]any{"imagePullSecrets": []any{name}}}
}

package main

import (
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lattice-mesh/meshpack/manifests"
)

// userFlags are the flags that add user content beside the mesh: extra
// charts, files and manifests (the spec's extraCharts, extraChartValues,
// extraFiles and extraManifests).
type userFlags struct {
	charts      []string
	chartValues []string
	files       []string
	manifests   []string
}

func (f *userFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.charts, "chart", nil, "extra Helm chart to carry (repeatable): REPO_URL/NAME@VERSION (HTTP repository) or oci://HOST/PATH/NAME@VERSION; its images are found by rendering it")
	fs.StringArrayVar(&f.chartValues, "chart-values", nil, "values file to render an extra chart with when finding its images (repeatable): CHART=FILE")
	fs.StringArrayVar(&f.files, "extra-file", nil, "extra file to carry (repeatable): URL, or URL#sha256=HEX to require that content (-f/--file is the spec)")
	fs.StringArrayVar(&f.manifests, "manifest", nil, "extra Kubernetes YAML manifest to carry (repeatable): a file or an http(s) URL; the images of its workloads are carried too")
}

// apply checks the syntax of each flag (a usage error names the flag and
// the form it wants), makes local paths of the spec file relative to the
// spec's directory and those of flags relative to the working directory
// (absolute either way, as the lock records them), and adds the flags to s.
func (f *userFlags) apply(specFile string, s *manifests.Spec) error {
	base := "."
	if specFile != "" {
		base = filepath.Dir(specFile)
	}
	for i, m := range s.ExtraManifests {
		s.ExtraManifests[i] = localPath(base, m)
	}
	for name, file := range s.ExtraChartValues {
		s.ExtraChartValues[name] = localPath(base, file)
	}
	for _, c := range f.charts {
		if _, err := manifests.ParseChartRef(c); err != nil {
			return usagef("--chart %v", err)
		}
		s.ExtraCharts = append(s.ExtraCharts, c)
	}
	for _, v := range f.chartValues {
		chart, file, err := manifests.ParseChartValues(v)
		if err != nil {
			return usagef("--chart-values %v", err)
		}
		if !namesChart(s.ExtraCharts, chart) {
			return usagef("--chart-values %s: no extra chart is named %s; name one with --chart (or the spec's extraCharts)", v, chart)
		}
		if s.ExtraChartValues == nil {
			s.ExtraChartValues = map[string]string{}
		}
		s.ExtraChartValues[chart] = localPath(".", file)
	}
	for _, u := range f.files {
		if _, err := manifests.ParseFileRef(u); err != nil {
			return usagef("--extra-file %v", err)
		}
		s.ExtraFiles = append(s.ExtraFiles, u)
	}
	for _, m := range f.manifests {
		if _, err := manifests.ParseManifestRef(m); err != nil {
			return usagef("--manifest %v", err)
		}
		s.ExtraManifests = append(s.ExtraManifests, localPath(".", m))
	}
	return nil
}

// localPath makes a local path absolute against base; URLs are kept.
func localPath(base, p string) string {
	p = strings.TrimSpace(p)
	if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) {
		return p
	}
	abs, err := filepath.Abs(filepath.Join(base, p))
	if err != nil {
		return p
	}
	return abs
}

// namesChart reports whether one of the chart references is named name.
func namesChart(charts []string, name string) bool {
	for _, c := range charts {
		if ref, err := manifests.ParseChartRef(c); err == nil && ref.Name == name {
			return true
		}
	}
	return false
}

// specFileIsURL refuses -f URL with the flag that carries a file: -f is
// the spec, as everywhere in meshpack.
func specFileIsURL(file string) error {
	if strings.HasPrefix(file, "https://") || strings.HasPrefix(file, "http://") {
		return usagef("-f/--file %s: -f names the spec file (mesh.yaml); to carry a file, use --extra-file URL[#sha256=HEX]", file)
	}
	return nil
}

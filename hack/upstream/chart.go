package upstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// Istio chart locations (istio-facts §2.1-2.2).
const (
	istioChartRepo = "https://istio-release.storage.googleapis.com/charts"
	istioOCICharts = "gcr.io/istio-release/charts"
)

// istioCharts are the published chart names; their sources sit under
// testdata/charts/istio-1.30.3/<name>.
var istioCharts = []string{"base", "istiod", "cni", "ztunnel", "gateway"}

// chartFile is one file of a chart source, path relative to the chart root.
type chartFile struct {
	path string
	data []byte
}

// chartMeta is the part of Chart.yaml the repo index and the OCI config
// carry, with Helm's field names.
type chartMeta struct {
	APIVersion  string   `json:"apiVersion"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	AppVersion  string   `json:"appVersion,omitempty"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
	Sources     []string `json:"sources,omitempty"`
	Icon        string   `json:"icon,omitempty"`
	Home        string   `json:"home,omitempty"`
}

// readChartDir loads every file below dir, sorted by path.
func readChartDir(dir string) ([]chartFile, error) {
	var files []chartFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, chartFile{path: filepath.ToSlash(rel), data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chart source %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, nil
}

var (
	versionLine = regexp.MustCompile(`(?m)^(version|appVersion): 1\.0\.0$`)
	devTag      = regexp.MustCompile(`tag: (latest|.*-latest-daily|1\..-dev)\b`)
	devHubs     = []string{"registry.istio.io/testing", "gcr.io/istio-testing", "gcr.io/istio-release"}
)

// stampIstio does what istio/release-builder does to a source chart at
// release, as text substitution in every Chart.yaml and values.yaml: version
// and appVersion become v, development hubs become the release hub, and the
// development tag becomes v.
func stampIstio(files []chartFile, v *semver.Version) []chartFile {
	hub := releaseHub(v)
	out := make([]chartFile, len(files))
	for i, f := range files {
		out[i] = f
		base := f.path[strings.LastIndex(f.path, "/")+1:]
		if base != "Chart.yaml" && base != "values.yaml" {
			continue
		}
		s := string(f.data)
		s = versionLine.ReplaceAllString(s, "${1}: "+v.Original())
		for _, dev := range devHubs {
			s = strings.ReplaceAll(s, "hub: "+dev, "hub: "+hub)
		}
		s = devTag.ReplaceAllString(s, "tag: "+v.Original())
		out[i].data = []byte(s)
	}
	return out
}

// chartMetadata parses the chart's Chart.yaml.
func chartMetadata(files []chartFile) (chartMeta, error) {
	for _, f := range files {
		if f.path == "Chart.yaml" {
			var m chartMeta
			if err := yaml.Unmarshal(f.data, &m); err != nil {
				return chartMeta{}, fmt.Errorf("Chart.yaml: %w", err)
			}
			return m, nil
		}
	}
	return chartMeta{}, fmt.Errorf("chart has no Chart.yaml")
}

// packageChart writes the chart as a Helm package: a gzipped tar whose
// entries sit below "<name>/", Chart.yaml first, then values.yaml, then the
// rest in path order, all with a fixed time so the digest is reproducible.
func packageChart(name string, files []chartFile) ([]byte, error) {
	ordered := append([]chartFile(nil), files...)
	rank := func(p string) int {
		switch p {
		case "Chart.yaml":
			return 0
		case "values.yaml":
			return 1
		}
		return 2
	}
	sort.SliceStable(ordered, func(i, j int) bool { return rank(ordered[i].path) < rank(ordered[j].path) })

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range ordered {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name + "/" + f.path,
			Mode:     0o644,
			Size:     int64(len(f.data)),
			ModTime:  epoch,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", name, f.path, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", name, f.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("chart %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("chart %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// builtChart is a packaged chart ready to serve and push.
type builtChart struct {
	meta chartMeta
	tgz  []byte
}

// buildIstioCharts stamps and packages every Istio chart for each version.
// Versions other than 1.30.3 reuse the 1.30.3 sources stamped to that
// version: an approximation (real older charts differ in templates and
// values) that is good enough for resolving, mirroring and pinning.
func buildIstioCharts(testdata string, versions []string) ([]builtChart, error) {
	var out []builtChart
	for _, name := range istioCharts {
		src, err := readChartDir(filepath.Join(testdata, "charts", "istio-1.30.3", name))
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			ver, err := semver.StrictNewVersion(v)
			if err != nil {
				return nil, fmt.Errorf("istio version %q: want X.Y.Z: %w", v, err)
			}
			stamped := stampIstio(src, ver)
			meta, err := chartMetadata(stamped)
			if err != nil {
				return nil, fmt.Errorf("chart %s %s: %w", name, v, err)
			}
			if meta.Name != name || meta.Version != v {
				return nil, fmt.Errorf("chart %s %s: stamped Chart.yaml says %s %s", name, v, meta.Name, meta.Version)
			}
			tgz, err := packageChart(name, stamped)
			if err != nil {
				return nil, err
			}
			out = append(out, builtChart{meta: meta, tgz: tgz})
		}
	}
	return out, nil
}

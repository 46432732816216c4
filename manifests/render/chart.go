// Package render renders the Istio and Kiali Helm charts offline with the Helm
// SDK, discovers every image a mesh needs (rendered into workloads or injected
// by istiod at run time), and builds the values that point those images at an
// internal registry by digest.
package render

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

// LoadChartArchive loads a chart from a .tgz stream (as `helm package`
// writes it).
func LoadChartArchive(r io.Reader) (*chart.Chart, error) {
	ch, err := loader.LoadArchive(r)
	if err != nil {
		return nil, fmt.Errorf("chart archive: %w", err)
	}
	return ch, nil
}

// LoadChartDir loads an unpacked chart directory.
func LoadChartDir(dir string) (*chart.Chart, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chart directory %s: %w", dir, err)
	}
	return ch, nil
}

// Istio's release process (istio/release-builder pkg/build/helm.go; see
// istio-facts §2.1) replaces these development hubs and the "latest" tag.
var (
	sourceHub = regexp.MustCompile(`(?m)^(\s*hub:\s*)(registry\.istio\.io/testing|gcr\.io/istio-testing|gcr\.io/istio-release)\s*$`)
	sourceTag = regexp.MustCompile(`(?m)^(\s*tag:\s*)latest\s*$`)
	chartVer  = regexp.MustCompile(`(?m)^(version|appVersion):.*$`)
)

// StampIstioChart loads an Istio source chart directory (as in the istio/istio
// repository: version 1.0.0, hub registry.istio.io/testing, tag latest) and
// stamps it the way Istio's release process does: Chart.yaml version and
// appVersion become version, the development hub in values.yaml becomes hub,
// and "tag: latest" becomes the version. The directory is not changed.
func StampIstioChart(dir string, version, hub string) (*chart.Chart, error) {
	if version == "" || hub == "" {
		return nil, fmt.Errorf("stamp chart %s: version and hub are required", dir)
	}
	ch, err := LoadChartDir(dir)
	if err != nil {
		return nil, err
	}
	ch.Metadata.Version = version
	ch.Metadata.AppVersion = version
	for _, f := range ch.Raw {
		switch f.Name {
		case chartutil.ValuesfileName:
			f.Data = sourceHub.ReplaceAll(f.Data, []byte("${1}"+hub))
			f.Data = sourceTag.ReplaceAll(f.Data, []byte("${1}"+version))
			vals, err := chartutil.ReadValues(f.Data)
			if err != nil {
				return nil, fmt.Errorf("stamp chart %s: values.yaml: %w", dir, err)
			}
			ch.Values = vals
		case chartutil.ChartfileName:
			f.Data = chartVer.ReplaceAllFunc(f.Data, func(line []byte) []byte {
				key, _, _ := bytes.Cut(line, []byte(":"))
				return []byte(string(key) + ": " + version)
			})
		}
	}
	return ch, nil
}

// StampIstioCharts stamps every chart directory under root named in names
// (e.g. testdata/charts/istio-1.30.3 with base, istiod, cni, ztunnel, gateway)
// and returns them by name.
func StampIstioCharts(root string, names []string, version, hub string) (map[string]*chart.Chart, error) {
	out := make(map[string]*chart.Chart, len(names))
	for _, n := range names {
		dir := filepath.Join(root, n)
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("stamp chart %s: %w", n, err)
		}
		ch, err := StampIstioChart(dir, version, hub)
		if err != nil {
			return nil, err
		}
		out[n] = ch
	}
	return out, nil
}

// fixedTime is the modification time of every entry PackageChart writes, so
// the same chart always packages to the same bytes (and sha256).
var fixedTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// PackageChart writes ch as a Helm chart archive (.tgz) that `helm install`
// and LoadChartArchive read. The output is deterministic: entries are sorted
// and carry a fixed time, so equal charts give equal digests.
func PackageChart(ch *chart.Chart) ([]byte, error) {
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("package chart %s: %w", ch.Name(), err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	if err := writeChart(tw, ch, ""); err != nil {
		return nil, fmt.Errorf("package chart %s: %w", ch.Name(), err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeChart(tw *tar.Writer, ch *chart.Chart, prefix string) error {
	base := path.Join(prefix, ch.Name())
	meta, err := yaml.Marshal(ch.Metadata)
	if err != nil {
		return err
	}
	if err := writeEntry(tw, path.Join(base, chartutil.ChartfileName), meta); err != nil {
		return err
	}
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			if err := writeEntry(tw, path.Join(base, f.Name), f.Data); err != nil {
				return err
			}
		}
	}
	if ch.Schema != nil {
		if err := writeEntry(tw, path.Join(base, chartutil.SchemafileName), ch.Schema); err != nil {
			return err
		}
	}
	files := append(append([]*chart.File(nil), ch.Templates...), ch.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		if err := writeEntry(tw, path.Join(base, f.Name), f.Data); err != nil {
			return err
		}
	}
	deps := ch.Dependencies()
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name() < deps[j].Name() })
	for _, d := range deps {
		if err := writeChart(tw, d, path.Join(base, "charts")); err != nil {
			return err
		}
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, data []byte) error {
	h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: fixedTime, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err := tw.Write(data)
	return err
}

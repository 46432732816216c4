package manifests

import (
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Components of the user content a lock carries beside the mesh: the
// LockedFile.Component of extraFiles and extraManifests (their bundle
// repositories are files/extra and files/manifests), and the prefixes of
// the LockedImage.Components of images found in them ("chart:webapp",
// "manifest:app.yaml").
const (
	ComponentExtraFile     = "extra"
	ComponentExtraManifest = "manifests"
	ComponentChartPrefix   = "chart:"
	ComponentManifestPref  = "manifest:"
)

// PinnedSpec is the LockedFile.Pinned of a file whose sha256 the spec gave
// (URL#sha256=HEX), checked against the download.
const PinnedSpec = "spec"

// ChartRef is one extra chart: "REPO_URL/NAME@VERSION" (a classic Helm HTTP
// repository whose index.yaml is REPO_URL/index.yaml) or
// "oci://HOST/PATH/NAME@VERSION" (a Helm OCI chart).
type ChartRef struct {
	// Repo is the repository URL without the chart name:
	// "https://charts.example.com" or "oci://ghcr.io/team/charts".
	Repo    string
	Name    string
	Version string
	// OCI is true for an oci:// chart.
	OCI bool
}

// String renders the reference as ParseChartRef reads it.
func (c ChartRef) String() string { return c.Repo + "/" + c.Name + "@" + c.Version }

// chartName is what Helm accepts as a chart name.
var chartName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)

// chartVersion is a SemVer 2 version, as Helm requires of a chart version
// (a leading "v" is tolerated, as Helm does).
var chartVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// ParseChartRef reads an extra chart reference (see ChartRef).
func ParseChartRef(s string) (ChartRef, error) {
	s = strings.TrimSpace(s)
	const want = "want REPO_URL/NAME@VERSION (https://charts.example.com/app@1.2.3) or oci://HOST/PATH/NAME@VERSION"
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return ChartRef{}, fmt.Errorf("%q has no @VERSION; %s", s, want)
	}
	loc, version := s[:at], s[at+1:]
	if !chartVersion.MatchString(version) {
		return ChartRef{}, fmt.Errorf("%q: version %q is not a chart version like 1.2.3; %s", s, version, want)
	}
	var oci bool
	switch {
	case strings.HasPrefix(loc, "oci://"):
		oci = true
	case strings.HasPrefix(loc, "https://"), strings.HasPrefix(loc, "http://"):
	default:
		return ChartRef{}, fmt.Errorf("%q: not an https://, http:// or oci:// location; %s", s, want)
	}
	slash := strings.LastIndex(loc, "/")
	repo, name := loc[:slash], loc[slash+1:]
	if !chartName.MatchString(name) {
		return ChartRef{}, fmt.Errorf("%q: chart name %q is not a Helm chart name (lowercase letters, digits, '-', '.', '_'); %s", s, name, want)
	}
	host := strings.SplitN(strings.SplitN(repo, "://", 2)[1], "/", 2)[0]
	if host == "" {
		return ChartRef{}, fmt.Errorf("%q: no repository host; %s", s, want)
	}
	if !oci {
		u, err := url.Parse(repo)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return ChartRef{}, fmt.Errorf("%q: repository URL %q is not a plain http(s) URL; %s", s, repo, want)
		}
	}
	return ChartRef{Repo: repo, Name: name, Version: version, OCI: oci}, nil
}

// FileRef is one extra file: "URL" or "URL#sha256=HEX".
type FileRef struct {
	// URL is the http(s) URL without the fragment.
	URL string
	// SHA256 is the lowercase hex sha256 the spec pins, or "".
	SHA256 string
	// Name is the file name: the URL path's last element.
	Name string
}

// String renders the reference as ParseFileRef reads it.
func (f FileRef) String() string {
	if f.SHA256 == "" {
		return f.URL
	}
	return f.URL + "#sha256=" + f.SHA256
}

// ParseFileRef reads an extra file reference (see FileRef).
func ParseFileRef(s string) (FileRef, error) {
	s = strings.TrimSpace(s)
	const want = "want URL or URL#sha256=<64 hex digits>, e.g. https://example.com/tool.tar.gz#sha256=…"
	raw, frag, hasFrag := strings.Cut(s, "#")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return FileRef{}, fmt.Errorf("%q: not an http(s) URL; %s", s, want)
	}
	name := path.Base(u.Path)
	if u.Path == "" || strings.HasSuffix(u.Path, "/") || name == "." || name == "/" {
		return FileRef{}, fmt.Errorf("%q: the URL names no file (its path must end in a file name); %s", s, want)
	}
	ref := FileRef{URL: raw, Name: name}
	if hasFrag {
		sum, ok := strings.CutPrefix(frag, "sha256=")
		b, err := hex.DecodeString(sum)
		if !ok || err != nil || len(b) != 32 {
			return FileRef{}, fmt.Errorf("%q: fragment %q is not sha256=<64 hex digits>; %s", s, "#"+frag, want)
		}
		ref.SHA256 = strings.ToLower(sum)
	}
	return ref, nil
}

// ManifestRef is one extra Kubernetes manifest: an http(s) URL or a local
// file path.
type ManifestRef struct {
	// URL is the http(s) URL, or "" for a local file.
	URL string
	// Path is the local file's path (as given), or "" for a URL.
	Path string
	// Name is the file name: the last element of the URL path or file path.
	Name string
}

// Source is where the lock says the manifest comes from: the URL, or a
// file:// URL of the local file's absolute path.
func (m ManifestRef) Source() (string, error) {
	if m.URL != "" {
		return m.URL, nil
	}
	abs, err := filepath.Abs(m.Path)
	if err != nil {
		return "", fmt.Errorf("manifest %s: %w", m.Path, err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// ParseManifestRef reads an extra manifest reference (see ManifestRef).
func ParseManifestRef(s string) (ManifestRef, error) {
	s = strings.TrimSpace(s)
	const want = "want a YAML file path or an http(s) URL, e.g. deploy/app.yaml or https://example.com/app.yaml"
	switch {
	case s == "":
		return ManifestRef{}, fmt.Errorf("empty; %s", want)
	case strings.HasPrefix(s, "https://"), strings.HasPrefix(s, "http://"):
		u, err := url.Parse(s)
		name := ""
		if err == nil {
			name = path.Base(u.Path)
		}
		if err != nil || u.Host == "" || u.Path == "" || strings.HasSuffix(u.Path, "/") || u.Fragment != "" {
			return ManifestRef{}, fmt.Errorf("%q: not an http(s) URL of a file; %s", s, want)
		}
		return ManifestRef{URL: s, Name: name}, nil
	case strings.Contains(s, "://"):
		return ManifestRef{}, fmt.Errorf("%q: only http(s) URLs and local paths are read; %s", s, want)
	}
	name := filepath.Base(s)
	if strings.HasSuffix(s, "/") || name == "." || name == string(filepath.Separator) {
		return ManifestRef{}, fmt.Errorf("%q: names a directory; %s", s, want)
	}
	return ManifestRef{Path: s, Name: name}, nil
}

// ParseChartValues reads "CHART=FILE" (--chart-values): the values file
// to render the extra chart CHART with when looking for its images.
func ParseChartValues(s string) (chart, file string, err error) {
	chart, file, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || !chartName.MatchString(chart) || strings.TrimSpace(file) == "" {
		return "", "", fmt.Errorf("%q: want CHART=FILE, e.g. webapp=values.yaml (CHART is the name of an extra chart)", s)
	}
	return chart, strings.TrimSpace(file), nil
}

// normalizeUserContent trims, de-duplicates and sorts the extra charts,
// files and manifests.
func (s *Spec) normalizeUserContent() {
	s.ExtraCharts = sortedUnique(s.ExtraCharts)
	s.ExtraFiles = sortedUnique(s.ExtraFiles)
	s.ExtraManifests = sortedUnique(s.ExtraManifests)
	if len(s.ExtraChartValues) == 0 {
		s.ExtraChartValues = nil
	}
}

// validateUserContent checks the syntax of every extra chart, file and
// manifest, and that no two of them would be stored under the same name.
func (s *Spec) validateUserContent(p *problems, at func(string) string) {
	charts := map[string]string{} // name@version -> first field path
	names := map[string]bool{}
	for i, c := range s.ExtraCharts {
		fp := indexPath(at("extraCharts"), i)
		ref, err := ParseChartRef(c)
		if err != nil {
			p.add(fp, 0, "%v", err)
			continue
		}
		names[ref.Name] = true
		key := ref.Name + "@" + strings.TrimPrefix(ref.Version, "v")
		if prev, ok := charts[key]; ok {
			p.add(fp, 0, "chart %s %s is also %s: a bundle stores one chart per name and version (charts/%s:%s); carry one of them", ref.Name, ref.Version, prev, ref.Name, ref.Version)
		}
		charts[key] = fp
	}
	for _, chart := range slices.Sorted(maps.Keys(s.ExtraChartValues)) {
		file := s.ExtraChartValues[chart]
		fp := joinPath(at("extraChartValues"), chart)
		switch {
		case !names[chart]:
			p.add(fp, 0, "no extra chart is named %q; values belong to a chart of extraCharts", chart)
		case strings.TrimSpace(file) == "":
			p.add(fp, 0, "empty; want the values file to render the chart with")
		}
	}
	tags := map[string]string{}
	stored := func(fp, repo, name string) {
		tag := repo + ":" + strings.TrimSuffix(name, path.Ext(name))
		if prev, ok := tags[tag]; ok {
			p.add(fp, 0, "%s would be stored as files/%s like %s; carry one of them (file names must differ before their extension)", name, tag, prev)
		}
		tags[tag] = fp
	}
	for i, f := range s.ExtraFiles {
		fp := indexPath(at("extraFiles"), i)
		ref, err := ParseFileRef(f)
		if err != nil {
			p.add(fp, 0, "%v", err)
			continue
		}
		stored(fp, ComponentExtraFile, ref.Name)
	}
	for i, m := range s.ExtraManifests {
		fp := indexPath(at("extraManifests"), i)
		ref, err := ParseManifestRef(m)
		if err != nil {
			p.add(fp, 0, "%v", err)
			continue
		}
		stored(fp, ComponentExtraManifest, ref.Name)
	}
}

package upstream

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
)

// istioRaw is where Istio's repository files are served by git ref
// (samples/addons/prometheus.yaml, the Prometheus Istio ships for Kiali).
const istioRaw = "https://raw.githubusercontent.com/istio/istio"

// addon is Istio's samples/addons/prometheus.yaml served for one Istio
// version, and the images it names.
type addon struct {
	version string
	data    []byte
	images  []string // as written in the file, e.g. "docker.io/prom/prometheus:v3.10.0"
}

// path is where the fixture HTTP server serves the addon.
func (a addon) path() string {
	return "/istio/istio/" + a.version + "/samples/addons/prometheus.yaml"
}

var imageLine = regexp.MustCompile(`(?m)^\s+image:\s*"?([^"\s]+)"?\s*$`)

// prometheusAddons returns the addon of each Istio version: the real file of
// that tag from testdata/istio-addons-<version>/ when there is one, else the
// newest one of the same minor, else the newest of all (an approximation for
// resolver and install tests, as for the Gateway API versions).
func prometheusAddons(testdata string, versions []string) ([]addon, error) {
	dirs, err := filepath.Glob(filepath.Join(testdata, "istio-addons-*", "prometheus.yaml"))
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("prometheus addon: no istio-addons-*/prometheus.yaml in %s (%v)", testdata, err)
	}
	var have []*semver.Version
	for _, d := range dirs {
		v, err := semver.StrictNewVersion(strings.TrimPrefix(filepath.Base(filepath.Dir(d)), "istio-addons-"))
		if err != nil {
			return nil, fmt.Errorf("prometheus addon: %s: %w", d, err)
		}
		have = append(have, v)
	}
	sort.Sort(semver.Collection(have))
	out := make([]addon, 0, len(versions))
	for _, v := range versions {
		want, err := semver.StrictNewVersion(v)
		if err != nil {
			return nil, fmt.Errorf("istio version %q: want X.Y.Z: %w", v, err)
		}
		src := have[len(have)-1] // newest of all
		var minor *semver.Version
		for _, h := range have { // ascending: the last of the minor is its newest
			if h.Equal(want) {
				minor = h
				break
			}
			if h.Major() == want.Major() && h.Minor() == want.Minor() {
				minor = h
			}
		}
		if minor != nil {
			src = minor
		}
		data, err := os.ReadFile(filepath.Join(testdata, "istio-addons-"+src.String(), "prometheus.yaml"))
		if err != nil {
			return nil, fmt.Errorf("prometheus addon: %w", err)
		}
		a := addon{version: v, data: data}
		for _, m := range imageLine.FindAllSubmatch(data, -1) {
			a.images = append(a.images, string(m[1]))
		}
		if len(a.images) == 0 {
			return nil, fmt.Errorf("prometheus addon of istio %s: no image line", src)
		}
		out = append(out, a)
	}
	return out, nil
}

// prometheus plans every image the addons name, once each, under its real
// name (docker.io/prom/prometheus, ghcr.io/prometheus-operator/…), unsigned
// as upstream publishes them.
func (p *planner) prometheus(scale float64) error {
	addons, err := prometheusAddons(p.opts.Testdata, p.opts.IstioVersions)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range addons {
		for _, ref := range a.images {
			repo, tag, err := splitRef(ref)
			if err != nil {
				return fmt.Errorf("prometheus addon of istio %s: %w", a.version, err)
			}
			if seen[repo+":"+tag] {
				continue
			}
			seen[repo+":"+tag] = true
			repos := []string{repo}
			bin := "bin/" + repo[strings.LastIndex(repo, "/")+1:]
			ip := &imagePlan{repos: repos, tags: []string{tag}, entry: []string{"/" + bin}}
			for _, plat := range p.platformsOr(istioPlatforms) { // upstream publishes more
				pp, err := platformOf(plat)
				if err != nil {
					return err
				}
				ip.platforms = append(ip.platforms, platformPlan{platform: pp, layers: []*layerSpec{
					p.base("distroless", plat, scale, repos),
					p.layer("app/"+repo+":"+tag+"/"+plat, kindApp, appUnitSize*scale, bin, repos),
				}})
			}
			p.images = append(p.images, ip)
		}
	}
	return nil
}

// addPrometheus serves the addon of every Istio version at its
// raw.githubusercontent.com path (below the fixture, see Mirrors).
func (st *site) addPrometheus(testdata string, versions []string) error {
	addons, err := prometheusAddons(testdata, versions)
	if err != nil {
		return err
	}
	for _, a := range addons {
		st.paths[a.path()] = a.data
		st.prometheus = append(st.prometheus, FileInfo{Name: "prometheus.yaml", Version: a.version, URL: istioRaw + "/" + a.version + "/samples/addons/prometheus.yaml"})
	}
	return nil
}

// prometheusInfos describes the served addons.
func (st *site) prometheusInfos(base string) []FileInfo {
	out := make([]FileInfo, 0, len(st.prometheus))
	for _, f := range st.prometheus {
		path := strings.TrimPrefix(f.URL, "https://raw.githubusercontent.com")
		f.LocalURL = base + path
		f.Digest = digest.FromBytes(st.paths[path])
		f.Size = int64(len(st.paths[path]))
		out = append(out, f)
	}
	return out
}

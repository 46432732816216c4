package manifests

import (
	"fmt"
	"net/url"
	"strings"
)

// PrometheusCatalog says where the Prometheus that Kiali reads comes from:
// the manifest Istio ships for its Kiali integration
// (samples/addons/prometheus.yaml of an Istio release), one per Istio
// version, pinned by sha256 where the catalog knows it.
type PrometheusCatalog struct {
	// URL is the manifest's URL template; "{istio}" is the exact Istio
	// version, a git tag of istio/istio (e.g. "1.30.3").
	URL string `json:"url"`
	// Service and Port are the Service the manifest defines and its port:
	// Kiali reads http://SERVICE.NAMESPACE:PORT.
	Service string `json:"service"`
	Port    int    `json:"port"`
	// Files pins the manifest of each known Istio version by sha256.
	Files []PinnedVersion `json:"files,omitempty"`
}

// PrometheusResolution is the Prometheus manifest a Kiali bundle carries.
type PrometheusResolution struct {
	// Istio is the Istio version the manifest belongs to ("1.30.3").
	Istio string
	// Name is the file name ("prometheus.yaml") and URL its upstream URL.
	Name string
	URL  string
	// Digest is the catalog's sha256 of the manifest, or "" (pinned at
	// resolve).
	Digest string
	// Service and Port are what Kiali reads.
	Service string
	Port    int
	Notes   []string
}

// PrometheusFor returns the Prometheus manifest Istio ships for its Kiali
// integration at istioVersion (exact). A version the catalog has no sha256
// for is allowed with a note: the download is pinned at resolve.
func (c *Catalog) PrometheusFor(istioVersion string) (PrometheusResolution, error) {
	pc := c.Prometheus
	if pc == nil {
		return PrometheusResolution{}, fmt.Errorf("prometheus for kiali: the catalog has no prometheus section; use the embedded catalog, add one to the catalog file, or name an existing Prometheus (kiali.prometheusURL)")
	}
	if !semverPattern.MatchString(istioVersion) {
		return PrometheusResolution{}, fmt.Errorf("prometheus for kiali: istio %q is not an exact version; Istio's samples/addons/prometheus.yaml is taken from that release", istioVersion)
	}
	u := strings.ReplaceAll(pc.URL, "{istio}", istioVersion)
	res := PrometheusResolution{Istio: istioVersion, Name: u[strings.LastIndex(u, "/")+1:], URL: u, Service: pc.Service, Port: pc.Port}
	for _, f := range pc.Files {
		if f.Version == istioVersion {
			res.Digest = f.Digest
		}
	}
	if res.Digest == "" {
		res.Notes = append(res.Notes, fmt.Sprintf("prometheus: the catalog has no sha256 of Istio %s's samples/addons/prometheus.yaml; the downloaded file is pinned", istioVersion))
	}
	return res, nil
}

// InClusterURL is the URL of the Prometheus Service the manifest defines,
// installed in namespace: http://SERVICE.NAMESPACE:PORT.
func (r PrometheusResolution) InClusterURL(namespace string) string {
	return PrometheusServiceURL(r.Service, namespace, r.Port)
}

// PrometheusServiceURL is http://SERVICE.NAMESPACE:PORT, the URL Kiali
// reads a Prometheus Service at.
func PrometheusServiceURL(service, namespace string, port int) string {
	return fmt.Sprintf("http://%s.%s:%d", service, namespace, port)
}

// CheckPrometheusURL checks a URL naming an existing Prometheus
// (kiali.prometheusURL, --prometheus-url): http or https with a host.
func CheckPrometheusURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL of a Prometheus, e.g. http://prometheus.monitoring:9090", raw)
	}
	return nil
}

// validatePrometheus checks the prometheus section, when there is one.
func (c *Catalog) validatePrometheus(p *problems) {
	pc := c.Prometheus
	if pc == nil {
		return
	}
	if !strings.HasPrefix(pc.URL, "https://") || !strings.Contains(pc.URL, "{istio}") || strings.HasSuffix(pc.URL, "/") {
		p.add("prometheus.url", 0, "want an https URL template of a file with {istio}")
	}
	requireText(p, "prometheus", map[string]string{"service": pc.Service})
	if pc.Port <= 0 || pc.Port > 65535 {
		p.add("prometheus.port", 0, "%d is not a port", pc.Port)
	}
	seen := map[string]bool{}
	for i, f := range pc.Files {
		at := indexPath("prometheus.files", i)
		if !semverPattern.MatchString(f.Version) || strings.HasPrefix(f.Version, "v") || seen[f.Version] {
			p.add(joinPath(at, "version"), 0, "%q is not an Istio version like 1.30.3, or is listed twice", f.Version)
		}
		seen[f.Version] = true
		validateDigestField(p, joinPath(at, "digest"), f.Digest)
	}
}

package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"text/template/parse"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"
)

// minorRegistry is the fake enclave registry the minor tests pin into.
const minorRegistry = "registry.internal:5000/mesh"

// pinnedMinors are the Istio versions whose real chart sources are in
// testdata/charts: the hub their release stamped in (istio-facts §2.2) and
// whether they have agentgateway (1.29+).
var pinnedMinors = []struct {
	version, releaseHub string
	agentgateway        bool
}{
	{"1.28.10", "docker.io/istio", false},
	{"1.29.6", "docker.io/istio", true},
	{"1.30.3", "registry.istio.io/release", true},
	{"1.31.0-rc.0", "docker.io/istio", true},
}

// minorProfiles are the installs rendered for every minor: all five charts
// are rendered by one of them (ztunnel by ambient only).
var minorProfiles = []struct {
	name string
	req  IstioRequest
}{
	{"sidecar with cni", IstioRequest{CNI: true, IngressGateway: true}},
	{"ambient", IstioRequest{Profile: ProfileAmbient, IngressGateway: true}},
}

// TestPinnedValuesMinors proves the digest-pinning value keys of DESIGN.md
// "Install" against the real charts of every minor in testdata: each chart is
// rendered with PinnedValues, and checkPinnedMinor must find nothing that runs
// or injects an image other than REGISTRY/…@<the digest given>.
func TestPinnedValuesMinors(t *testing.T) {
	for _, m := range pinnedMinors {
		for _, p := range minorProfiles {
			t.Run(m.version+"/"+p.name, func(t *testing.T) {
				charts := minorCharts(t, m.version, m.releaseHub)
				req := p.req
				req.Version, req.Hub, req.Agentgateway = m.version, dockerHub, m.agentgateway
				for _, problem := range checkPinnedMinor(charts, req) {
					t.Error(problem)
				}
				if !m.agentgateway {
					// Why PinnedValues refuses agentgateway here (pinned.go).
					if cm := chartFile(t, charts[ChartIstiod], "templates/istiod-injector-configmap.yaml"); strings.Contains(string(cm.Data), `"files/agentgateway.yaml"`) {
						t.Errorf("istio %s: the injector ConfigMap loads files/agentgateway.yaml; allow agentgateway for this minor", m.version)
					}
					req.Agentgateway = true
					if _, err := PinnedValues(ChartIstiod, req, minorDigests(req), minorRegistry); err == nil {
						t.Errorf("istio %s: PinnedValues with agentgateway: got nil error, want a refusal", m.version)
					}
				}
			})
		}
	}
}

// TestPinnedMinorsDetectsIgnoredKeys makes sure checkPinnedMinor fails loudly,
// naming minor, chart and key, when a chart stops honouring a key: each case
// edits one file of the real 1.30.3 charts the way an upstream change could.
func TestPinnedMinorsDetectsIgnoredKeys(t *testing.T) {
	const proxyInit = "contains \"/\" (annotation .ObjectMeta `sidecar.istio.io/proxyImage` .Values.global.proxy_init.image)"
	const proxy = "contains \"/\" (annotation .ObjectMeta `sidecar.istio.io/proxyImage` .Values.global.proxy.image)"
	tests := []struct {
		chart, file, old, new, want string
	}{
		{ChartIstiod, "templates/deployment.yaml", `if contains "/" .Values.image`, `if false`, "chart istiod, key image:"},
		{ChartIstiod, "files/injection-template.yaml", proxyInit, "and false (" + proxyInit + ")", "chart istiod, key global.proxy_init.image:"},
		{ChartIstiod, "files/gateway-injection-template.yaml", proxy, "and false (" + proxy + ")", "chart istiod, key global.proxy.image: injection template gateway"},
		{ChartIstiod, "files/waypoint.yaml", proxy, `contains "/" .ProxyImage`, "chart istiod, key global.proxy.image: injection template waypoint"},
		{ChartIstiod, "templates/istiod-injector-configmap.yaml", `{{ .Files.Get "files/agentgateway.yaml" | trim | indent 8 }}`, "", "chart istiod, key global.agentgateway.image:"},
		{ChartCNI, "templates/daemonset.yaml", `if contains "/" .Values.image`, `if false`, "chart cni, key image:"},
		{ChartCNI, "templates/configmap-cni.yaml", `{{ .Values.tag | default .Values.global.tag | quote }}`, `"latest"`, "chart cni, key global.tag:"},
		{ChartZtunnel, "templates/daemonset.yaml", `{{with (.Values.variant )}}-{{.}}{{end}}`, `-distroless`, "chart ztunnel, key hub/tag/variant:"},
	}
	req := IstioRequest{Version: "1.30.3", Hub: dockerHub, Profile: ProfileAmbient, IngressGateway: true, Agentgateway: true}
	if problems := checkPinnedMinor(minorCharts(t, "1.30.3", releaseHub), req); len(problems) > 0 {
		t.Fatalf("unedited charts: %q", problems)
	}
	for _, tt := range tests {
		t.Run(tt.chart+"/"+tt.file, func(t *testing.T) {
			charts := minorCharts(t, "1.30.3", releaseHub)
			f := chartFile(t, charts[tt.chart], tt.file)
			if !strings.Contains(string(f.Data), tt.old) {
				t.Fatalf("no %q to edit", tt.old)
			}
			f.Data = []byte(strings.ReplaceAll(string(f.Data), tt.old, tt.new))
			problems := checkPinnedMinor(charts, req)
			for _, p := range problems {
				if strings.HasPrefix(p, "istio 1.30.3 (ambient), ") && strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("after the edit, no problem names %q; got %q", tt.want, problems)
		})
	}
}

// minorCharts stamps the real source charts of version as its release did.
func minorCharts(t *testing.T, version, hub string) map[string]*chart.Chart {
	t.Helper()
	charts, err := StampIstioCharts("../../testdata/charts/istio-"+version, allCharts, version, hub)
	if err != nil {
		t.Fatalf("istio %s: StampIstioCharts: %v", version, err)
	}
	return charts
}

// chartFile returns the template or file name of ch.
func chartFile(t *testing.T, ch *chart.Chart, name string) *chart.File {
	t.Helper()
	for _, f := range append(append([]*chart.File(nil), ch.Templates...), ch.Files...) {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("chart %s %s: no file %s", ch.Name(), ch.Metadata.Version, name)
	return nil
}

// minorDigests gives every upstream image of req a fake, distinct digest.
func minorDigests(req IstioRequest) map[string]string {
	out := map[string]string{}
	for _, n := range []string{"pilot", "proxyv2", "install-cni", "ztunnel", "agentgateway"} {
		src := imageRef(req.Hub, n, req.Version, req.variant())
		out[src] = fakeDigest(src)
	}
	return out
}

// wantRefs returns the pinned form of an upstream image of req,
// REGISTRY/istio/name@digest, and the REGISTRY/istio/name:tag@digest form
// (ztunnel's hub+tag route) with the upstream tag and the same digest.
func wantRefs(req IstioRequest, name string) (whole, tagged string) {
	src := imageRef(req.Hub, name, req.Version, req.variant())
	repo, d := minorRegistry+"/istio/"+name, fakeDigest(src)
	return repo + "@" + d, repo + ":" + src[strings.LastIndex(src, ":")+1:] + "@" + d
}

// chartRuns says which image each chart's workloads run and the value key
// that pins it (the gateway runs "image: auto", which istiod injects).
var chartRuns = map[string]struct{ image, key string }{
	ChartIstiod:  {"pilot", "image"},
	ChartCNI:     {"install-cni", "image"},
	ChartZtunnel: {"ztunnel", "hub/tag/variant"},
	ChartGateway: {"proxyv2", "global.proxy.image (injected into image: auto)"},
}

// checkPinnedMinor renders every chart of req with PinnedValues and returns
// one line per broken key, "istio V (profile), chart C, key K: …":
//   - every container and init container of every workload runs its pinned
//     image (the gateway's "auto" excepted: istiod injects it);
//   - the istio-sidecar-injector values carry global.proxy.image,
//     global.proxy_init.image (and global.agentgateway.image) pinned, and the
//     injection templates in that ConfigMap use them whole (injectedImages);
//   - cni's CURRENT_AGENT_VERSION is the version.
func checkPinnedMinor(charts map[string]*chart.Chart, req IstioRequest) []string {
	profile := req.Profile
	if profile == "" {
		profile = ProfileSidecar
	}
	var problems []string
	fail := func(chartName, key, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("istio %s (%s), chart %s, key %s: ", req.Version, profile, chartName, key)+fmt.Sprintf(format, args...))
	}
	digests := minorDigests(req)
	var injector *Object
	for _, name := range req.Charts() {
		vals, err := PinnedValues(name, req, digests, minorRegistry)
		if err != nil {
			fail(name, "-", "PinnedValues: %v", err)
			continue
		}
		out, err := Chart(charts[name], vals, Release{KubeVersion: req.KubeVersion})
		if err != nil {
			fail(name, "-", "render: %v", err)
			continue
		}
		objs, err := out.Objects()
		if err != nil {
			fail(name, "-", "%v", err)
			continue
		}
		runs, seen := chartRuns[name], false
		for i, o := range objs {
			for _, img := range o.Images() {
				if whole, tagged := wantRefs(req, runs.image); name == ChartGateway && img == "auto" {
					// istiod fills it in with the "gateway" template, checked in checkInjector.
					seen = true
					if tpl := lookup(o.Data, "spec", "template", "metadata", "annotations", "inject.istio.io/templates"); tpl != "gateway" {
						fail(name, runs.key, "%s %s runs image auto with injection template %v, want gateway", o.Kind(), o.Name(), tpl)
					}
				} else if img == whole || img == tagged {
					seen = true
				} else {
					fail(name, runs.key, "%s %s runs %q, want %s", o.Kind(), o.Name(), img, whole)
				}
			}
			if o.Kind() != "ConfigMap" {
				continue
			}
			if name == ChartIstiod && strings.HasPrefix(o.Name(), "istio-sidecar-injector") {
				injector = &objs[i]
			}
			if v, ok := lookup(o.Data, "data", "CURRENT_AGENT_VERSION").(string); ok && name == ChartCNI && v != req.Version {
				fail(name, "global.tag", "ConfigMap %s has CURRENT_AGENT_VERSION %q, want %q", o.Name(), v, req.Version)
			}
		}
		if runs.image != "" && !seen {
			fail(name, runs.key, "no workload runs %s", runs.image)
		}
	}
	if injector == nil {
		fail(ChartIstiod, "global.proxy.image", "rendered no istio-sidecar-injector ConfigMap")
		return problems
	}
	for _, p := range checkInjector(*injector, req) {
		fail(ChartIstiod, p[0], "%s", p[1])
	}
	return problems
}

// checkInjector checks the rendered istio-sidecar-injector ConfigMap: its
// values JSON (what istiod reads as .Values) and the image branch of every
// injection template in its config. It returns (key, problem) pairs.
func checkInjector(cm Object, req IstioRequest) [][2]string {
	var out [][2]string
	add := func(key, format string, args ...any) { out = append(out, [2]string{key, fmt.Sprintf(format, args...)}) }
	var vals map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprint(lookup(cm.Data, "data", "values"))), &vals); err != nil {
		add("global.proxy.image", "ConfigMap %s values: %v", cm.Name(), err)
		return out
	}
	// The keys istiod must carry pinned, and the templates that must use each.
	proxy, _ := wantRefs(req, "proxyv2")
	want := map[string]string{"proxy": proxy, "proxy_init": proxy}
	must := map[string][]string{"sidecar": {"proxy_init", "proxy"}, "gateway": {"proxy"},
		"waypoint": {"proxy"}, "kube-gateway": {"proxy"}, "grpc-agent": {"proxy"}}
	if req.Agentgateway {
		want["agentgateway"], _ = wantRefs(req, "agentgateway")
		must["agentgateway"] = []string{"agentgateway"}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got := lookup(vals, "global", k, "image"); got != want[k] {
			add("global."+k+".image", "ConfigMap %s values have %v, want %s", cm.Name(), got, want[k])
		}
	}
	var cfg struct {
		Templates map[string]string `json:"templates"`
	}
	if err := yaml.Unmarshal([]byte(fmt.Sprint(lookup(cm.Data, "data", "config"))), &cfg); err != nil {
		add("global.proxy.image", "ConfigMap %s config: %v", cm.Name(), err)
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(must)) {
		if cfg.Templates[name] == "" {
			add("global."+must[name][0]+".image", "ConfigMap %s has no injection template %s", cm.Name(), name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Templates)) {
		got, err := injectedImages(name, cfg.Templates[name], vals, want)
		if err != nil {
			add("global.*.image", "injection template %s: %v", name, err)
		}
		for _, k := range must[name] {
			if len(got[k]) == 0 {
				add("global."+k+".image", "injection template %s has no image branch on it", name)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			for _, img := range got[k] {
				if img != want[k] {
					add("global."+k+".image", "injection template %s does not use it whole: injects %q, want %s", name, img, want[k])
				}
			}
		}
	}
	return out
}

// fallbackImage is what the "else" of an image branch renders in
// injectedImages: istiod's own hub/name:tag, which can carry no digest.
const fallbackImage = "istiod-computed/hub-name:tag"

var (
	imageKeyRE   = regexp.MustCompile(`\.Values\.global\.(\w+)\.image\b`)
	imageLineRE  = regexp.MustCompile(`(?m)^[\s-]*image:`)
	imageValueRE = regexp.MustCompile(`image:\s*"?([^"\s]+)"?`)
)

// injectedImages executes the image branches of one injection template and
// returns, by key, the images they produce with vals as .Values.
//
// istiod executes these templates with its own data (ProxyConfig and
// MeshConfig protos, the pod, …) and function map (pkg/kube/inject); that
// data model is not available here (istio.io/istio is not a dependency), so
// the whole template cannot run. What decides the image is one branch per
// container,
//
//	{{- if contains "/" (annotation .ObjectMeta `…/proxyImage` .Values.global.proxy.image) }}
//	  image: "{{ annotation .ObjectMeta `…/proxyImage` .Values.global.proxy.image }}"
//	{{- else }}
//	  image: "{{ .ProxyImage }}"
//	{{- end }}
//
// so each such branch (an if whose condition reads .Values.global.<key>.image
// with contains "/") is cut out of the parsed template and executed with
// Istio's semantics of annotation and contains, no pod annotations, and
// fallbackImage as .ProxyImage, .ProxyInitImage and .AgentgatewayImage. An
// "image:" line outside such a branch is an error (it cannot be pinned),
// except the busybox of the opt-in grpc-simple template. Keys not in want
// (agentgateway when not requested) are skipped.
func injectedImages(name, text string, vals map[string]any, want map[string]string) (map[string][]string, error) {
	tree := parse.New(name)
	tree.Mode = parse.SkipFuncCheck
	if _, err := tree.Parse(text, "", "", map[string]*parse.Tree{}); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	var walk func(n parse.Node) error
	walk = func(n parse.Node) error {
		var kids []parse.Node
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				kids = n.Nodes
			}
		case *parse.IfNode:
			pipe := n.Pipe.String()
			if m := imageKeyRE.FindStringSubmatch(pipe); m != nil && strings.Contains(pipe, `contains "/"`) {
				if _, ok := want[m[1]]; !ok {
					return nil
				}
				img, err := runImageBranch(n, vals)
				if err != nil {
					return fmt.Errorf("branch on global.%s.image: %w", m[1], err)
				}
				out[m[1]] = append(out[m[1]], img)
				return nil
			}
			kids = []parse.Node{n.List, n.ElseList}
		case *parse.RangeNode:
			kids = []parse.Node{n.List, n.ElseList}
		case *parse.WithNode:
			kids = []parse.Node{n.List, n.ElseList}
		case *parse.TextNode:
			if imageLineRE.Match(n.Text) && !(name == "grpc-simple" && strings.Contains(string(n.Text), "busybox")) {
				return fmt.Errorf("an image line outside a global.*.image branch, which no value can pin: %q", strings.TrimSpace(string(n.Text)))
			}
		}
		for _, k := range kids {
			if err := walk(k); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(tree.Root)
}

// injectMeta stands for the pod's (or Gateway's) ObjectMeta.
type injectMeta struct{ Annotations, Labels map[string]string }

// injectFuncs are the functions of istiod's injection function map that
// image branches use, with Istio's semantics (pkg/kube/inject/template.go:
// getAnnotation, flippedContains; quote as sprig's).
var injectFuncs = template.FuncMap{
	"annotation": func(m injectMeta, name string, def any) string {
		if v, ok := m.Annotations[name]; ok {
			return v
		}
		return fmt.Sprint(def)
	},
	"contains": func(needle, haystack string) bool { return strings.Contains(haystack, needle) },
	"quote":    func(s any) string { return fmt.Sprintf("%q", fmt.Sprint(s)) },
}

// runImageBranch executes one image branch and returns the image it renders.
func runImageBranch(n *parse.IfNode, vals map[string]any) (string, error) {
	tmpl, err := template.New("branch").Funcs(injectFuncs).Option("missingkey=error").Parse(n.String())
	if err != nil {
		return "", err
	}
	var b strings.Builder
	data := map[string]any{"ObjectMeta": injectMeta{}, "Values": vals,
		"ProxyImage": fallbackImage, "ProxyInitImage": fallbackImage, "AgentgatewayImage": fallbackImage}
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	m := imageValueRE.FindStringSubmatch(b.String())
	if m == nil {
		return "", fmt.Errorf("rendered no image line: %q", b.String())
	}
	return m[1], nil
}

package manifests

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseCase is one input of a user-content reference parser: what it
// parses to, or (err set) a text its error must contain.
type parseCase[T any] struct {
	in   string
	want T
	err  string
}

// runParseCases runs parse over cases. Every error must also contain form,
// the syntax the flag wants ("" when the parser names none); check, when
// set, looks further at each value parsed.
func runParseCases[T any](t *testing.T, cases []parseCase[T], parse func(string) (T, error), form string, check func(*testing.T, T)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parse(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), form) {
					t.Fatalf("err %v, want one saying %q and the form wanted (%q)", err, tc.err, form)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if check != nil {
				check(t, got)
			}
		})
	}
}

func TestParseChartRef(t *testing.T) {
	runParseCases(t, []parseCase[ChartRef]{
		{in: "https://charts.example.com/app@1.2.3", want: ChartRef{Repo: "https://charts.example.com", Name: "app", Version: "1.2.3"}},
		{in: " https://example.com/helm/stable/my-app@v1.2.3-rc.1+build.5 ", want: ChartRef{Repo: "https://example.com/helm/stable", Name: "my-app", Version: "v1.2.3-rc.1+build.5"}},
		{in: "http://127.0.0.1:8080/charts/app@0.1.0", want: ChartRef{Repo: "http://127.0.0.1:8080/charts", Name: "app", Version: "0.1.0"}},
		{in: "oci://ghcr.io/team/charts/app@0.4.0", want: ChartRef{Repo: "oci://ghcr.io/team/charts", Name: "app", Version: "0.4.0", OCI: true}},
		{in: "oci://registry.local:5000/app@0.4.0", want: ChartRef{Repo: "oci://registry.local:5000", Name: "app", Version: "0.4.0", OCI: true}},
		{in: "https://charts.example.com/app", err: "has no @VERSION"},
		{in: "https://charts.example.com/app@latest", err: `version "latest" is not a chart version`},
		{in: "https://charts.example.com/app@1.2", err: `version "1.2" is not a chart version`},
		{in: "charts.example.com/app@1.2.3", err: "not an https://, http:// or oci:// location"},
		{in: "ftp://charts.example.com/app@1.2.3", err: "not an https://, http:// or oci:// location"},
		{in: "https://charts.example.com/App@1.2.3", err: `chart name "App" is not a Helm chart name`},
		{in: "https://charts.example.com/@1.2.3", err: `chart name "" is not a Helm chart name`},
		{in: "oci:///app@1.2.3", err: "no repository host"},
		{in: "https://charts.example.com/x?y=1/app@1.2.3", err: "is not a plain http(s) URL"},
	}, ParseChartRef, "want REPO_URL/NAME@VERSION", func(t *testing.T, got ChartRef) {
		if again, err := ParseChartRef(got.String()); err != nil || again != got {
			t.Errorf("String() %q parses to %+v, %v", got.String(), again, err)
		}
	})
}

func TestParseFileRef(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	runParseCases(t, []parseCase[FileRef]{
		{in: "https://example.com/tools/jq-1.7.tar.gz", want: FileRef{URL: "https://example.com/tools/jq-1.7.tar.gz", Name: "jq-1.7.tar.gz"}},
		{in: "https://example.com/a.json#sha256=" + sum, want: FileRef{URL: "https://example.com/a.json", SHA256: sum, Name: "a.json"}},
		{in: "http://127.0.0.1:1/a.json#sha256=" + strings.ToUpper(sum), want: FileRef{URL: "http://127.0.0.1:1/a.json", SHA256: sum, Name: "a.json"}},
		{in: "https://example.com/a.json?x=1", want: FileRef{URL: "https://example.com/a.json?x=1", Name: "a.json"}},
		{in: "https://example.com/a.json#sha256=abc", err: `fragment "#sha256=abc" is not sha256=<64 hex digits>`},
		{in: "https://example.com/a.json#md5=" + sum, err: "is not sha256=<64 hex digits>"},
		{in: "https://example.com/a.json#sha256=" + strings.Repeat("zz", 32), err: "is not sha256=<64 hex digits>"},
		{in: "https://example.com/", err: "the URL names no file"},
		{in: "https://example.com", err: "the URL names no file"},
		{in: "/tmp/a.json", err: "not an http(s) URL"},
		{in: "s3://bucket/a.json", err: "not an http(s) URL"},
	}, ParseFileRef, "want URL or URL#sha256=", nil)
}

func TestParseManifestRef(t *testing.T) {
	runParseCases(t, []parseCase[ManifestRef]{
		{in: "deploy/app.yaml", want: ManifestRef{Path: "deploy/app.yaml", Name: "app.yaml"}},
		{in: "/srv/app.yml", want: ManifestRef{Path: "/srv/app.yml", Name: "app.yml"}},
		{in: "https://example.com/k8s/app.yaml", want: ManifestRef{URL: "https://example.com/k8s/app.yaml", Name: "app.yaml"}},
		{in: "", err: "empty"},
		{in: "deploy/", err: "names a directory"},
		{in: "https://example.com/", err: "not an http(s) URL of a file"},
		{in: "https://example.com/app.yaml#x", err: "not an http(s) URL of a file"},
		{in: "s3://bucket/app.yaml", err: "only http(s) URLs and local paths"},
	}, ParseManifestRef, "", nil)
	src, err := ManifestRef{Path: "/srv/a b.yaml"}.Source()
	if err != nil || src != "file:///srv/a%20b.yaml" {
		t.Errorf("Source() = %q, %v; want file:///srv/a%%20b.yaml", src, err)
	}
}

// TestSpecUserContent validates a spec's extraCharts, extraChartValues,
// extraFiles and extraManifests: every syntax error at its field path, and
// two entries that a bundle would store under the same name.
func TestSpecUserContent(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		errs []string
	}{
		{name: "valid", edit: func(s *Spec) {
			s.ExtraCharts = []string{"https://c.example.com/app@1.0.0", "oci://r.example.com/charts/app@1.1.0"}
			s.ExtraChartValues = map[string]string{"app": "/v.yaml"}
			s.ExtraFiles = []string{"https://f.example.com/a.json", "https://f.example.com/b.tar.gz"}
			s.ExtraManifests = []string{"/m/a.yaml", "https://m.example.com/b.yaml"}
		}},
		{name: "syntax", edit: func(s *Spec) {
			s.ExtraCharts = []string{"https://c.example.com/app"}
			s.ExtraFiles = []string{"a.json"}
			s.ExtraManifests = []string{"s3://b/a.yaml"}
		}, errs: []string{"extraCharts[0]: ", "has no @VERSION", "extraFiles[0]: ", "extraManifests[0]: "}},
		{name: "same chart twice", edit: func(s *Spec) {
			s.ExtraCharts = []string{"https://c.example.com/app@1.0.0", "oci://r.example.com/app@v1.0.0"}
		}, errs: []string{"extraCharts[1]: chart app v1.0.0 is also extraCharts[0]"}},
		{name: "values of no chart", edit: func(s *Spec) {
			s.ExtraChartValues = map[string]string{"app": "v.yaml"}
		}, errs: []string{`extraChartValues.app: no extra chart is named "app"`}},
		{name: "same stored name", edit: func(s *Spec) {
			s.ExtraFiles = []string{"https://a.example.com/x.json", "https://b.example.com/x.yaml"}
		}, errs: []string{"extraFiles[1]: x.yaml would be stored as files/extra:x like extraFiles[0]"}},
		{name: "file and manifest may share a name", edit: func(s *Spec) {
			s.ExtraFiles = []string{"https://a.example.com/x.yaml"}
			s.ExtraManifests = []string{"/x.yaml"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.edit(&s)
			err := s.Validate()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.errs)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

package resolve_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

const istioRelease = "https://github.com/istio/istio/releases/download"

// TestParseChecksumFile reads the formats upstreams write: Istio's release
// builder ("<hex> <name>"), sha256sum text and binary mode, and a bare sum.
func TestParseChecksumFile(t *testing.T) {
	const name = "istioctl-1.30.3-linux-amd64.tar.gz"
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		data    string
		want    string
		wantErr bool
	}{
		{"release builder", sum + " " + name + "\n", sum, false},
		{"sha256sum", sum + "  " + name + "\n", sum, false},
		{"binary mode", sum + " *" + name + "\n", sum, false},
		{"upper case", strings.ToUpper(sum) + "  " + name, sum, false},
		{"bare sum", sum + "\n", sum, false},
		{"listing", strings.Repeat("cd", 32) + "  other.tar.gz\n" + sum + "  " + name + "\n", sum, false},
		{"other file only", sum + "  other.tar.gz\n", "", true},
		{"short sum", sum[:62] + "  " + name, "", true},
		{"not hex", strings.Repeat("zz", 32) + "  " + name, "", true},
		{"empty", "", "", true},
		{"html error page", "<html>Not Found</html>", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve.ParseChecksumFile([]byte(tt.data), name)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestResolveIstioctl pins each asked platform's archive to the sha256 the
// fixture published (and its .sha256 states), from the canonical URL.
func TestResolveIstioctl(t *testing.T) {
	spec := manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion, Istioctl: []string{"linux/amd64", "darwin/arm64"}}}
	lock := mustResolve(t, spec)
	got := map[string]manifests.LockedFile{}
	for _, f := range lock.Files {
		if f.Component == "istioctl" {
			got[f.Platform] = f
		}
	}
	if len(got) != 2 {
		t.Fatalf("istioctl files: got %+v, want linux/amd64 and darwin/arm64", got)
	}
	for plat, suffix := range map[string]string{"linux/amd64": "linux-amd64", "darwin/arm64": "osx-arm64"} {
		f := got[plat]
		name := "istioctl-" + istioVersion + "-" + suffix + ".tar.gz"
		pub, ok := publishedFile(istioRelease + "/" + istioVersion + "/" + name)
		if !ok {
			t.Fatalf("the fixture did not publish %s", name)
		}
		if f.Name != name || f.Source != pub.URL || f.Digest != pub.Digest.String() || f.Size != pub.Size ||
			f.Pinned != manifests.PinnedUpstreamSHA256 || f.Executable != "istioctl" || f.Version != istioVersion {
			t.Errorf("%s: got %+v, want %s pinned to %s (%d bytes) by upstream-sha256", plat, f, name, pub.Digest, pub.Size)
		}
	}
	if err := lock.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestResolveIstioctlChecksum: an archive that differs from its .sha256, a
// missing .sha256, and a platform Istio publishes nothing for all stop
// resolve, naming the archive.
func TestResolveIstioctlChecksum(t *testing.T) {
	const name = "istioctl-" + istioVersion + "-linux-amd64.tar.gz"
	pub, ok := publishedFile(istioRelease + "/" + istioVersion + "/" + name)
	if !ok {
		t.Fatalf("the fixture did not publish %s", name)
	}
	good := strings.TrimPrefix(pub.Digest.String(), "sha256:")
	tests := []struct {
		name     string
		sumFile  string // "" : 404
		platform string
		is       error
		want     string
	}{
		{"archive differs", strings.Repeat("0", 64) + " " + name + "\n", "linux/amd64", resolve.ErrChecksumMismatch, "says " + strings.Repeat("0", 64)},
		{"no checksum file", "", "linux/amd64", nil, "checksum file"},
		{"checksum of another file", good + " istioctl-" + istioVersion + "-osx.tar.gz\n", "linux/amd64", nil, "no sha256 for " + name},
		{"no such platform", good + " " + name + "\n", "linux/s390x", nil, "Istio publishes no istioctl archive for linux/s390x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, ".sha256") && tt.sumFile != "":
					w.Write([]byte(tt.sumFile))
				case strings.HasSuffix(r.URL.Path, ".sha256"):
					http.NotFound(w, r)
				default: // the real archive
					http.Redirect(w, r, pub.LocalURL, http.StatusFound)
				}
			}))
			defer srv.Close()
			spec := manifests.Spec{Istio: manifests.IstioSpec{Version: istioVersion, Istioctl: []string{tt.platform}}}
			_, err := resolveWith(t, spec, resolve.Options{Client: newClient(t, map[string]string{istioRelease: srv.URL})})
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("got %v, want an error containing %q (is %v)", err, tt.want, tt.is)
			}
		})
	}
}

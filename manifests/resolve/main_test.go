package resolve_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/remote"
)

// Fixture content the tests resolve against.
const (
	istioVersion = "1.30.3"
	// newestPatch is published too: newer than every 1.30 patch the catalog
	// lists, so that discovery (Options.Discover) picks it.
	newestPatch  = "1.30.6"
	kialiVersion = "2.26.0"
	gatewayAPI   = "v1.5.1"
	// oldGatewayAPI is published too, for the unsupported-set tests.
	oldGatewayAPI = "v1.4.1"
	appImage      = "docker.io/library/app:1"
	webImage      = "ghcr.io/acme/web:2.0"
	// kialiChartSHA is the catalog's pin of kiali-server-2.26.0.tgz.
	kialiChartSHA = "sha256:a5570a189af026483b48d03354b55e6e968e30f62cd412f753135f6198d84c7e"
	// istioChartRepo is the upstream Istio Helm repository of 1.30.
	istioChartRepo = "https://istio-release.storage.googleapis.com/charts"
	kialiChartRepo = "https://kiali.org/helm-charts"
)

// fx is the fixture upstream shared by every test of the package, started
// once in TestMain (seeding takes most of the package's time).
var fx struct {
	u *upstream.Upstream
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	keyDir, err := os.MkdirTemp("", "meshpack-resolve-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(keyDir)
	signer, _, err := upstream.NewFixtureKey(keyDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixture key:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, err := upstream.Start(ctx, upstream.Options{
		// newestPatch: a 1.30 patch the catalog never saw, for discovery.
		IstioVersions:      []string{istioVersion, newestPatch},
		GatewayAPIVersions: []string{gatewayAPI, oldGatewayAPI},
		ExtraImages:        []string{appImage, webImage},
		LayerScale:         0.05,
		Sign:               upstream.SignWith(signer),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start fixture upstream:", err)
		return 1
	}
	fx.u = u
	code := m.Run()
	if err := u.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close fixture upstream:", err)
		code = 1
	}
	return code
}

// loopbackOnly is a transport that dials 127.0.0.1 and refuses any other
// address, so no test can reach the internet (e.g. through a fallback chart
// repository no mirror covers).
func loopbackOnly() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("test transport: dial %s refused: only loopback is allowed", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
	t.Proxy = nil
	return t
}

// fixtureMirrors parses the fixture's --mirror arguments, with the
// replacements of override (by origin) applied.
func fixtureMirrors(t *testing.T, override map[string]string) manifests.Mirrors {
	t.Helper()
	var ms manifests.Mirrors
	seen := map[string]bool{}
	for _, arg := range fx.u.Mirrors() {
		m, err := manifests.ParseMirror(arg)
		if err != nil {
			t.Fatalf("ParseMirror(%q): %v", arg, err)
		}
		if r, ok := override[m.Origin]; ok {
			m.Replacement = r
			seen[m.Origin] = true
		}
		ms = append(ms, m)
	}
	for origin := range override {
		if !seen[origin] {
			t.Fatalf("override of mirror %q: the fixture has no such origin (mirrors: %v)", origin, fx.u.Mirrors())
		}
	}
	return ms
}

// newClient builds a loopback-only client with the fixture mirrors.
func newClient(t *testing.T, override map[string]string) *remote.Client {
	t.Helper()
	return newClientWith(t, fixtureMirrors(t, override), loopbackOnly())
}

func newClientWith(t *testing.T, ms manifests.Mirrors, rt http.RoundTripper) *remote.Client {
	t.Helper()
	c, err := remote.New(remote.Options{
		Mirrors:      ms,
		Transport:    rt,
		DockerConfig: os.DevNull, // no credentials from the host
	})
	if err != nil {
		t.Fatalf("remote.New: %v", err)
	}
	return c
}

// resolveWith runs Resolve with a bounded context.
func resolveWith(t *testing.T, spec manifests.Spec, opts resolve.Options) (*manifests.Lock, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	return resolve.Resolve(ctx, spec, opts)
}

// mustResolve resolves spec against the fixture and fails the test on error.
func mustResolve(t *testing.T, spec manifests.Spec) *manifests.Lock {
	t.Helper()
	lock, err := resolveWith(t, spec, resolve.Options{Client: newClient(t, nil)})
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", spec.Istio, err)
	}
	return lock
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkAgainstFixture proves every pin of lock equals what the fixture
// published: image index and per-platform digests, chart and file sha256,
// sizes, and canonical (never mirrored) sources.
func checkAgainstFixture(t *testing.T, lock *manifests.Lock) {
	t.Helper()
	for _, img := range lock.Images {
		checkDigest(t, img.Reference, img.Digest)
		pub, ok := fx.u.Image(img.Reference)
		if !ok {
			t.Errorf("image %s: the fixture did not publish it", img.Reference)
			continue
		}
		if img.Digest != pub.Digest.String() || img.Size != pub.Size || img.MediaType != pub.MediaType {
			t.Errorf("image %s: got %s (%d bytes, %s), want %s (%d bytes, %s)", img.Reference,
				img.Digest, img.Size, img.MediaType, pub.Digest, pub.Size, pub.MediaType)
		}
		if got, want := platformPins(img.Platforms), publishedPins(pub.Platforms); got != want {
			t.Errorf("image %s platforms: got %s, want %s", img.Reference, got, want)
		}
		for _, p := range img.Platforms {
			checkDigest(t, img.Reference+" "+p.Platform, p.Digest)
		}
		if signed := img.SignedBy != ""; signed != pub.Signed {
			t.Errorf("image %s: got signedBy %q, want signed=%v as published", img.Reference, img.SignedBy, pub.Signed)
		}
		if len(img.Components) == 0 {
			t.Errorf("image %s: no components", img.Reference)
		}
	}
	for _, ch := range lock.Charts {
		checkDigest(t, "chart "+ch.Name, ch.Digest)
		pub, ok := publishedChart(ch.Name, ch.Version)
		if !ok {
			t.Errorf("chart %s %s: the fixture did not publish it", ch.Name, ch.Version)
			continue
		}
		if ch.Digest != pub.Digest.String() || ch.ContentDigest != pub.Digest.String() || ch.Size != pub.Size {
			t.Errorf("chart %s %s: got %s / %s (%d bytes), want %s (%d bytes)", ch.Name, ch.Version,
				ch.Digest, ch.ContentDigest, ch.Size, pub.Digest, pub.Size)
		}
		if ch.Source != pub.URL {
			t.Errorf("chart %s %s: got source %s, want the upstream URL %s", ch.Name, ch.Version, ch.Source, pub.URL)
		}
	}
	for _, f := range lock.Files {
		checkDigest(t, "file "+f.Name, f.Digest)
		pub, ok := publishedFile(f.Source)
		if !ok {
			t.Errorf("file %s: the fixture did not publish %s", f.Name, f.Source)
			continue
		}
		if f.Digest != pub.Digest.String() || f.Size != pub.Size || f.Name != pub.Name || f.Version != pub.Version {
			t.Errorf("file %s: got %s %s (%d bytes), want %s %s (%d bytes)", f.Source,
				f.Name, f.Digest, f.Size, pub.Name, pub.Digest, pub.Size)
		}
	}
	if err := lock.Validate(); err != nil {
		t.Errorf("lock.Validate: %v", err)
	}
	if lock.Spec.Mirrors != nil {
		t.Errorf("lock spec mirrors: got %v, want none", lock.Spec.Mirrors)
	}
	raw, err := lock.Marshal()
	if err != nil {
		t.Fatalf("lock.Marshal: %v", err)
	}
	for _, local := range []string{fx.u.RegistryHost(), strings.TrimPrefix(fx.u.BaseURL(), "http://")} {
		if strings.Contains(string(raw), local) {
			t.Errorf("lock names the mirror %s; want canonical sources only", local)
		}
	}
}

func checkDigest(t *testing.T, what, d string) {
	t.Helper()
	if !digestPattern.MatchString(d) {
		t.Errorf("%s: got digest %q, want sha256: and 64 lowercase hex", what, d)
	}
}

func platformPins(ps []manifests.LockedPlatform) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s=%s/%d ", p.Platform, p.Digest, p.Size)
	}
	return b.String()
}

func publishedPins(ps []upstream.PlatformManifest) string {
	var b strings.Builder
	for _, p := range sortedPlatforms(ps) {
		fmt.Fprintf(&b, "%s=%s/%d ", p.Platform, p.Digest, p.Size)
	}
	return b.String()
}

func sortedPlatforms(ps []upstream.PlatformManifest) []upstream.PlatformManifest {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b upstream.PlatformManifest) int { return strings.Compare(a.Platform, b.Platform) })
	return out
}

func publishedChart(name, version string) (upstream.ChartInfo, bool) {
	for _, c := range fx.u.Charts() {
		if c.Name == name && c.Version == version {
			return c, true
		}
	}
	return upstream.ChartInfo{}, false
}

func publishedFile(url string) (upstream.FileInfo, bool) {
	for _, f := range fx.u.Files() {
		if f.URL == url {
			return f, true
		}
	}
	return upstream.FileInfo{}, false
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

// wantErrContains fails unless err is non-nil and mentions every part.
func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q: does not mention %q", err, p)
		}
	}
}

// errorsAsIncompatible unwraps an *resolve.IncompatibleError.
func errorsAsIncompatible(err error) (*resolve.IncompatibleError, bool) {
	var ie *resolve.IncompatibleError
	ok := errors.As(err, &ie)
	return ie, ok
}

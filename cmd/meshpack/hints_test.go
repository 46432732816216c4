package main

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/remote"
	"github.com/lattice-mesh/meshpack/signing"
)

// TestFlagHints checks that flagHints names the flags for the options and
// inputs library errors name, keeps the library error in the chain and
// keeps a usage error a usage error.
func TestFlagHints(t *testing.T) {
	lockWithMirrors := (&manifests.Lock{Spec: manifests.Spec{Mirrors: []manifests.Mirror{{Origin: "docker.io", Replacement: "nexus.example.com/dockerhub"}}}}).Validate()
	tests := []struct {
		name      string
		err       error
		is        error    // still matched after the hint; nil: err itself
		want      []string // in the message
		wantUsage bool
	}{
		{"credentials in the registry address", usageError{mirror.ValidateTarget("admin:s3cret@registry.internal/mesh")}, mirror.ErrCredentialsInTarget,
			[]string{"credentials in the registry address", "-u USER --password-stdin", "--docker-config"}, true},
		{"scheme in the registry address", usageError{mirror.ValidateTarget("http://registry.internal/mesh")}, mirror.ErrSchemeInTarget,
			[]string{"without a scheme", "--plain-http"}, true},
		{"no credentials", fmt.Errorf("load refused: %w", remote.ErrNoCredentials), remote.ErrNoCredentials,
			[]string{"-u USER --password-stdin", "--docker-config with a config.json"}, false},
		{"credentials rejected", fmt.Errorf("%w: %w", mirror.ErrUnauthorized, remote.ErrCredentialsRejected), remote.ErrCredentialsRejected,
			[]string{"check the user and password given with -u USER --password-stdin", "--docker-config"}, false},
		{"refused mid-load", fmt.Errorf("blob: %w: %w", mirror.ErrUnauthorized, remote.ErrUnauthorized), mirror.ErrUnauthorized,
			[]string{"-u USER --password-stdin or --docker-config"}, false},
		{"plain HTTP registry", fmt.Errorf("registry x is not reachable: %w", mirror.ErrPlainHTTP), mirror.ErrPlainHTTP,
			[]string{"remote.Options.PlainHTTP", "; pass --plain-http"}, false},
		{"stall", fmt.Errorf("blob: %w", &remote.StallError{Phase: "sending the request body"}), remote.ErrStalled,
			[]string{"raise --stall-timeout"}, false},
		{"blob over the cap", &mirror.LimitError{Option: mirror.LimitMaxBlobSize, Limit: 1 << 20}, mirror.ErrTooLarge,
			[]string{"raise it with --max-blob-size"}, false},
		{"total over the cap", &mirror.LimitError{Option: mirror.LimitMaxTotalSize, Limit: 1 << 20}, mirror.ErrTooLarge,
			[]string{"raise it with --max-total-size"}, false},
		{"no upstream key", &mirror.UpstreamError{Image: "docker.io/istio/pilot:1.30.3", Key: "istio-release", Err: mirror.ErrNoUpstreamKey}, mirror.ErrNoUpstreamKey,
			[]string{"docker.io/istio/pilot:1.30.3", "PullOptions.UpstreamKeys", "--upstream-key istio-release=FILE", "--verify-upstream=off"}, false},
		{"no upstream signature", fmt.Errorf("plan: %w", &mirror.UpstreamError{Image: "docker.io/istio/pilot:1.30.3", Subject: digest.FromString("pilot"), Key: "istio-release", Err: signing.ErrNoSignature}), signing.ErrNoSignature,
			[]string{"no upstream cosign signature", `"istio-release"`, "--verify-upstream=if-signed or off"}, false},
		{"incompatible set", &resolve.IncompatibleError{Violations: []manifests.Violation{{Rule: "kiali-range", Message: "kiali 2.12.0 is outside the range"}}}, resolve.ErrIncompatible,
			[]string{"kiali 2.12.0", "Options.AllowUnsupported", "--allow-unsupported"}, false},
		{"no platform", fmt.Errorf("image x: %w", resolve.ErrNoPlatform), resolve.ErrNoPlatform,
			[]string{"Spec.Platforms", "--platform"}, false},
		{"no chart source", fmt.Errorf("chart base 1.30.3: %w", resolve.ErrNoChartSource), resolve.ErrNoChartSource,
			[]string{"Spec.Mirrors", "use --mirror"}, false},
		{"lock with mirrors", fmt.Errorf("mesh.lock.yaml: %w", lockWithMirrors), manifests.ErrInvalid,
			[]string{"spec.mirrors", "pass mirrors with --mirror"}, false},
		{"no hint", errors.New("something else"), nil, []string{"something else"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := flagHints(tt.err)
			is := tt.is
			if is == nil {
				is = tt.err
			}
			if !errors.Is(got, is) {
				t.Errorf("flagHints(%v) = %v, which no longer matches %v", tt.err, got, is)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("flagHints = %q, want it to contain %q", got, w)
				}
			}
			if u := (exitCode(got) == 2); u != tt.wantUsage {
				t.Errorf("flagHints(%v): usage error %v, want %v", tt.err, u, tt.wantUsage)
			}
		})
	}
	for option := range limitFlags {
		if option != mirror.LimitMaxBlobSize && option != mirror.LimitMaxTotalSize {
			t.Errorf("limitFlags maps %q, which mirror.LimitError never names", option)
		}
	}
}

// TestHintServeWarnings checks that the embedded registry's warnings, which
// name Config fields, reach the CLI naming registry serve's flags.
func TestHintServeWarnings(t *testing.T) {
	const lan = "192.0.2.1:5000" // TEST-NET-1: New does not listen
	tests := []struct {
		name string
		cfg  registry.Config
		want []string
	}{
		{"no TLS, no auth", registry.Config{Addr: lan, InsecureListen: true},
			[]string{"clients need --plain-http; set --tls-cert and --tls-key", "pull every image; set --htpasswd"}},
		{"auth without TLS", registry.Config{Addr: lan, InsecureListen: true, Htpasswd: writeHtpasswd(t)},
			[]string{"set --tls-cert and --tls-key", "passwords in clear text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Root = t.TempDir()
			srv, err := registry.New(context.Background(), tt.cfg)
			if err != nil {
				t.Fatalf("registry.New: %v", err)
			}
			defer srv.Close()
			var lines []string
			for _, w := range srv.Warnings() {
				lines = append(lines, serveWarning(w))
			}
			all := strings.Join(lines, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("warnings lack %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "Config.") {
				t.Errorf("warnings still name a Config field:\n%s", all)
			}
		})
	}
}

// writeHtpasswd writes an htpasswd file with one bcrypt entry.
func writeHtpasswd(t *testing.T) string {
	t.Helper()
	path := registrytest.Htpasswd(t, "admin", "s3cret")
	return path
}

// flagInLiteral is a command-line flag in a string: two dashes and a
// letter, not part of a longer run of dashes (a PEM "-----BEGIN").
var flagInLiteral = regexp.MustCompile(`(?:^|[^-])(--[A-Za-z][A-Za-z0-9-]*)`)

// libraryFlagAllowlist lists the flags a library's string literals may
// hold, by file: only where the flag itself is data about the CLI.
var libraryFlagAllowlist = map[string][]string{
	// legacyUnsigned: the value BOM.Unsigned held before it named the
	// option; older bundles still carry it, and UnsignedReason reads it.
	"mirror/verify.go": {"--allow-unsigned"},
	// lockHeader: the comment at the top of every lock file tells its
	// reader which command rebuilds the bundle from it.
	"manifests/lock_io.go": {"--lock"},
}

// TestHintNoFlagNamesInLibraries keeps CLI flag names out of the library
// packages (DECISIONS.md "Library errors name options, not flags"): no
// string literal of a non-test Go file outside cmd/ and hack/ names a flag,
// except as libraryFlagAllowlist says. Errors name options and inputs;
// flagHints maps them to flags.
func TestHintNoFlagNamesInLibraries(t *testing.T) {
	root := filepath.Join("..", "..")
	skip := map[string]bool{"cmd": true, "hack": true, "testdata": true, "bin": true, "vendor": true}
	used := map[string]bool{}
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || !strings.Contains(rel, "/") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				s = lit.Value
			}
			for _, m := range flagInLiteral.FindAllStringSubmatch(s, -1) {
				flag := m[1]
				allowed := false
				for _, a := range libraryFlagAllowlist[rel] {
					if a == flag {
						allowed, used[rel+" "+flag] = true, true
					}
				}
				if !allowed {
					found = append(found, fmt.Sprintf("%s:%d: %s in %s", rel, fset.Position(lit.Pos()).Line, flag, lit.Value))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	if len(found) > 0 {
		t.Errorf("library string literals name CLI flags; name the option or input instead (a typed error or sentinel) and map it to the flag in cmd/meshpack/hints.go:\n\t%s",
			strings.Join(found, "\n\t"))
	}
	for file, flags := range libraryFlagAllowlist {
		for _, flag := range flags {
			if !used[file+" "+flag] {
				t.Errorf("libraryFlagAllowlist: %s no longer names %s; remove the entry", file, flag)
			}
		}
	}
}

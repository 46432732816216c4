package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/manifests"
)

// runCLI runs meshpack with args and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(strings.NewReader(stdin), &out, &errOut)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := 0
	if err := root.ExecuteContext(ctx); err != nil {
		errOut.WriteString("error: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return out.String(), errOut.String(), code
}

func TestVersionsJSON(t *testing.T) {
	out, errOut, code := runCLI(t, "", "versions", "-o", "json")
	if code != 0 {
		t.Fatalf("versions -o json: exit %d: %s", code, errOut)
	}
	var entries []versionEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("versions -o json is not a JSON list of versions: %v\n%s", err, out)
	}
	if len(entries) < 4 {
		t.Fatalf("got %d Istio minors, want at least 4", len(entries))
	}
	minors := map[string]bool{}
	for _, e := range entries {
		minors[e.Istio] = true
		if e.Latest == "" || e.Kiali.Recommended == "" || e.Kiali.Range == "" || e.GatewayAPI.Tested == "" ||
			e.Kubernetes.Min == "" || e.Kubernetes.Max == "" {
			t.Errorf("istio %s: incomplete pairing: %+v", e.Istio, e)
		}
	}
	for _, m := range []string{"1.28", "1.29", "1.30", "1.31"} {
		if !minors[m] {
			t.Errorf("istio %s missing from versions", m)
		}
	}
}

func TestVersionsTableAndYAML(t *testing.T) {
	for _, format := range []string{"table", "yaml"} {
		t.Run(format, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", "versions", "-o", format)
			if code != 0 || !strings.Contains(out, "1.30.3") || !strings.Contains(out, "2.26.0") || !strings.Contains(out, "v1.5.1") {
				t.Fatalf("versions -o %s: exit %d, stdout:\n%s\nstderr:\n%s", format, code, out, errOut)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad output format", []string{"versions", "-o", "xml"}, 2, `--output "xml"`},
		{"unknown flag", []string{"versions", "--nope"}, 2, "unknown flag"},
		{"resolve without a mesh", []string{"resolve"}, 2, "say what to carry"},
		{"bad profile", []string{"resolve", "--istio", "1.30", "--profile", "sidecars"}, 1, `istio.profile: "sidecars" is not one of sidecar, ambient`},
		{"incompatible kiali", []string{"resolve", "--istio", "1.30.3", "--kiali=2.12.0"}, 1,
			"kiali 2.12.0 is outside the range >=2.22.0 <2.30.0 supported by istio 1.30.3"},
		{"incompatible kiali, version after a bare --kiali", []string{"resolve", "--istio", "1.30", "--kiali", "2.12.0"}, 1,
			"kiali 2.12.0 is outside the range >=2.22.0 <2.30.0 supported by istio 1.30"},
		{"stray argument", []string{"resolve", "a.lock.yaml", "--istio", "1.30", "extra"}, 2, `unexpected argument "extra"`},
		{"incompatible gateway api", []string{"resolve", "--istio", "1.30", "--gateway-api", "v1.4.1"}, 1,
			"gateway-api v1.4.1 is below the minimum v1.5.0 for istio 1.30"},
		{"incompatible kubernetes", []string{"resolve", "--istio", "1.30", "--kubernetes-version", "1.29"}, 1,
			"kubernetes 1.29 is outside the range 1.32 to 1.36 supported by istio 1.30"},
		{"unknown istio minor", []string{"resolve", "--istio", "1.19"}, 1, "known minors"},
		{"create needs a bundle file", []string{"bundle", "create", "--istio", "1.30"}, 2, "no bundle file: name it as the argument"},
		{"create -o is a format", []string{"bundle", "create", "--istio", "1.30", "-o", "json"}, 2, "no bundle file: name it as the argument"},
		{"create -o neither format nor path", []string{"bundle", "create", "x", "--istio", "1.30", "-o", "mesh"}, 2, `--output "mesh": want one of text, json, yaml (the bundle file is the argument`},
		{"create needs a key", []string{"bundle", "create", "x.tar.zst", "--istio", "1.30"}, 2, "no signing key"},
		{"create key and allow unsigned", []string{"bundle", "create", "x.tar.zst", "--istio", "1.30", "--key", "k", "--allow-unsigned"}, 2, "exclude each other"},
		{"create file twice", []string{"bundle", "create", "x.tar.zst", "--istio", "1.30", "-o", "y.tar.zst"}, 2, "both name the output file"},
		{"bad split size", []string{"bundle", "create", "x", "--istio", "1.30", "--split", "lots"}, 2, "--split"},
		{"bad upstream policy", []string{"bundle", "create", "x", "--istio", "1.30", "--verify-upstream", "maybe"}, 2, `--verify-upstream "maybe"`},
		{"resolve -o text", []string{"resolve", "--istio", "1.30", "-o", "text"}, 2, `--output "text": want one of yaml, json`},
		{"istio version with a variant", []string{"resolve", "--istio", "1.30.3-distroless"}, 2, "use --istio 1.30.3 --variant distroless"},
		{"istio version with a tag suffix", []string{"bundle", "create", "x", "--istio", "1.30.3-foo"}, 2, `istio version "1.30.3-foo": want a minor`},
		{"resolve into a missing directory", []string{"resolve", "/nonexistent/dir/mesh.lock.yaml", "--istio", "1.30"}, 2, "directory /nonexistent/dir does not exist"},
		{"create into a missing directory", []string{"bundle", "create", "/nonexistent/dir/mesh.tar.zst", "--istio", "1.30"}, 2, "directory /nonexistent/dir does not exist"},
		{"create onto a directory", []string{"bundle", "create", os.TempDir(), "--istio", "1.30"}, 2, "is a directory"},
		{"password-stdin without username", []string{"resolve", "--istio", "1.30", "--password-stdin"}, 2, "--password-stdin needs --username"},
		{"version -o xml", []string{"version", "-o", "xml"}, 2, `--output "xml"`},
		{"bad mirror", []string{"resolve", "--istio", "1.30", "--mirror", "docker.io"}, 2, "want ORIGIN=REPLACEMENT"},
		{"verify missing file", []string{"bundle", "verify", "--allow-unsigned", "/nonexistent/b.tar.zst"}, 1, "/nonexistent/b.tar.zst"},
		{"missing argument", []string{"bundle", "verify", "--allow-unsigned"}, 2, "accepts 1 arg(s), received 0"},
		{"extra argument", []string{"bundle", "inspect", "a.tar.zst", "b.tar.zst"}, 2, "received 2"},
		{"unknown command", []string{"nosuch"}, 2, `unknown command "nosuch"`},
		{"unknown subcommand", []string{"bundle", "nosuch"}, 2, `unknown command "nosuch" for "meshpack bundle"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("meshpack %s: got exit %d and stderr %q, want exit %d and %q", strings.Join(tt.args, " "), code, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestSpecFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(s specView) specView
	}{
		{"kiali bare", []string{"--istio", "1.30", "--kiali"}, func(s specView) specView { s.Kiali, s.KialiVersion = true, ""; return s }},
		{"kiali version", []string{"--istio", "1.30", "--kiali=2.26"}, func(s specView) specView { s.Kiali, s.KialiVersion = true, "2.26"; return s }},
		{"kiali off", []string{"--istio", "1.30", "--kiali=false"}, func(s specView) specView { return s }},
		{"kiali-version implies kiali", []string{"--istio", "1.30", "--kiali-version", "v2.26.0"}, func(s specView) specView { s.Kiali, s.KialiVersion = true, "2.26.0"; return s }},
		{"gateway api none", []string{"--istio", "1.30", "--gateway-api", "none"}, func(s specView) specView { s.GatewayAPI, s.Channel = false, ""; return s }},
		{"ambient defaults distroless", []string{"--istio", "1.30", "--profile", "ambient"}, func(s specView) specView { s.Profile, s.Variant = "ambient", "distroless"; return s }},
		{"platforms", []string{"--istio", "1.30", "--platform", "linux/arm64,linux/amd64"}, func(s specView) specView {
			s.Platforms = []string{"linux/amd64", "linux/arm64"}
			return s
		}},
	}
	base := specView{Istio: "1.30", Profile: "sidecar", Variant: "default", GatewayAPI: true, Channel: "standard"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sf specFlags
			cmd := &cobra.Command{Use: "x"}
			sf.register(cmd.Flags())
			if err := cmd.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s, err := sf.spec(cmd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(base), viewOf(s)); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

// specView is the part of a spec the flag tests compare.
type specView struct {
	Istio, Profile, Variant string
	Kiali                   bool
	KialiVersion            string
	GatewayAPI              bool
	Channel                 string
	Platforms               []string
}

func viewOf(s manifests.Spec) specView {
	return specView{
		Istio: s.Istio.Version, Profile: s.Istio.Profile, Variant: s.Istio.Variant,
		Kiali: s.Kiali.Enabled, KialiVersion: s.Kiali.Version,
		GatewayAPI: s.GatewayAPIEnabled(), Channel: s.GatewayAPI.Channel, Platforms: s.Platforms,
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"4GiB", 4 << 30, false}, {"700MiB", 700 << 20, false}, {"4G", 4 << 30, false},
		{"1.5GB", 1_500_000_000, false}, {"1024", 1024, false}, {"8 MiB", 8 << 20, false},
		{"", 0, true}, {"lots", 0, true}, {"-1GiB", 0, true}, {"1XB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	if got := exitCode(context.Canceled); got != 130 {
		t.Errorf("exitCode(context.Canceled) = %d, want 130", got)
	}
	if got := exitCode(usagef("x")); got != 2 {
		t.Errorf("exitCode(usage) = %d, want 2", got)
	}
	if got := exitCode(errors.New("x")); got != 1 {
		t.Errorf("exitCode(other) = %d, want 1", got)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/remote"
)

// authSeeded returns n reproducible incompressible bytes.
func authSeeded(seed byte, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// pushAuthImages pushes team/app:1 and team/api:1, linux/amd64 images
// sharing their first layer, into host with cred; it returns their
// references.
func pushAuthImages(ctx context.Context, t *testing.T, host string, cred auth.Credential) []string {
	t.Helper()
	shared := authSeeded(1, 256<<10)
	var refs []string
	for i, name := range []string{"team/app", "team/api"} {
		repo, err := orasremote.NewRepository(host + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		repo.PlainHTTP = true
		repo.Client = &auth.Client{Credential: auth.StaticCredential(host, cred)}
		push := func(mt string, data []byte) ocispec.Descriptor {
			d := content.NewDescriptorFromBytes(mt, data)
			if err := repo.Push(ctx, d, bytes.NewReader(data)); err != nil {
				t.Fatalf("push %s to %s/%s: %v", d.Digest, host, name, err)
			}
			return d
		}
		layers := []ocispec.Descriptor{push(ocispec.MediaTypeImageLayer, shared), push(ocispec.MediaTypeImageLayer, authSeeded(byte(2+i), 128<<10))}
		cfg := push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"name":"`+name+`"}}}`))
		raw, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers})
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.PushReference(ctx, content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw), bytes.NewReader(raw), "1"); err != nil {
			t.Fatalf("push %s/%s:1: %v", host, name, err)
		}
		refs = append(refs, host+"/"+name+":1")
	}
	return refs
}

// authLockAndBundle pins refs with cred (the library, not the CLI under
// test), writes the lock to dir/NAME.lock.yaml and a bundle of it to
// dir/NAME.tar.zst, and returns both paths.
func authLockAndBundle(ctx context.Context, t *testing.T, dir, name string, cred auth.Credential, refs ...string) (lockPath, bundlePath string) {
	t.Helper()
	c, err := remote.New(remote.Options{PlainHTTP: true, Username: cred.Username, Password: cred.Password, DockerConfig: filepath.Join(dir, "no-docker-config.json")})
	if err != nil {
		t.Fatal(err)
	}
	spec := manifests.Spec{APIVersion: manifests.APIVersion, Kind: manifests.SpecKind, Istio: manifests.IstioSpec{Version: manifests.IstioNone}, ExtraImages: refs}
	lock, err := resolve.Resolve(ctx, spec, resolve.Options{Client: c})
	if err != nil {
		t.Fatalf("resolve %v: %v", refs, err)
	}
	data, err := lock.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lockPath, bundlePath = filepath.Join(dir, name+".lock.yaml"), filepath.Join(dir, name+".tar.zst")
	if err := os.WriteFile(lockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Create(ctx, lock, bundlePath, mirror.CreateOptions{PullOptions: mirror.PullOptions{Client: c, AllowUnsigned: true}}); err != nil {
		t.Fatalf("create %s: %v", bundlePath, err)
	}
	return lockPath, bundlePath
}

// authRun is one meshpack run: its output, the bundle path it was given
// (-o) and its --state-dir.
type authRun struct{ stdout, stderr, out, state string }

// runPiped runs meshpack as its own process (this test binary re-executed,
// see TestMain) with stdin piped, as `printf %s "$PW" | meshpack …` does,
// in an empty HOME (no docker credentials).
func runPiped(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), runCLIEnv+"=1", "HOME="+home, "TMPDIR="+home,
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("meshpack %s: killed after 2m\n%s", strings.Join(args, " "), errOut.String())
	case errors.As(err, &exitErr):
		return out.String(), errOut.String(), exitErr.ExitCode()
	case err != nil:
		t.Fatalf("meshpack %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), 0
}

// TestE2EPasswordStdin runs every command that has --password-stdin
// (resolve, bundle create, bundle load) as its own process with the
// password piped in, against registries that want HTTP basic auth
// (Distribution with htpasswd) and bearer tokens (Distribution with token
// auth and a test token issuer, as Harbor, Quay and GitLab registries are):
// the right password pulls and pushes, cross-repository mounts included; a
// wrong one fails with a 401 naming the registry; the password never
// appears in stdout, stderr (at -v), the load journal directory or a
// registry's log.
func TestE2EPasswordStdin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test (-short)")
	}
	const (
		password = "Cli-pw-6e2b94c0f1"
		wrong    = "Cli-wrong-1d7a3c5e9"
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "no-docker-config.json"), []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	htpasswd := registrytest.Htpasswd(t, "admin", password)
	logs := &registrytest.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Basic auth: images in src, loads into dst. Token auth: one registry.
	src := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd, Logger: logger})
	dst := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd, Logger: logger})
	tok, issuer := registrytest.NewTokenAuth(t, registry.Config{Root: t.TempDir(), Logger: logger}, map[string]registrytest.TokenUser{
		"robot": {Password: password, Grants: map[string][]string{"team/": {"pull", "push"}, "mesh/": {"pull", "push"}}},
	})
	basic, robot := auth.Credential{Username: "admin", Password: password}, auth.Credential{Username: "robot", Password: password}
	srcRefs := pushAuthImages(ctx, t, src, basic)
	tokRefs := pushAuthImages(ctx, t, tok, robot)
	srcLock, srcBundle := authLockAndBundle(ctx, t, dir, "basic", basic, srcRefs...)
	tokLock, _ := authLockAndBundle(ctx, t, dir, "token", robot, tokRefs...)

	create := func(user string, from ...string) []string {
		return append([]string{"bundle", "create", "-v", "-u", user, "--password-stdin", "--plain-http", "--allow-unsigned", "--verify-upstream=off", "-o", "{out}"}, from...)
	}
	images := func(refs []string) []string {
		args := []string{"--istio", "none"}
		for _, r := range refs {
			args = append(args, "--image", r)
		}
		return args
	}
	load := func(user, target string) []string {
		return []string{"bundle", "load", srcBundle, "--registry", target, "-v", "-u", user, "--password-stdin",
			"--plain-http", "--allow-unsigned", "--state-dir", "{state}", "-o", "json"}
	}
	for n, tc := range []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		want     []string // in stderr (in stdout for resolve)
		check    func(t *testing.T, r authRun)
	}{
		{"resolve, basic auth", password + "\n", append([]string{"resolve", "-v", "-u", "admin", "--password-stdin", "--plain-http"}, images(srcRefs)...),
			0, []string{src + "/team/app:1", "sha256:"}, nil},
		{"resolve, basic auth, wrong password", wrong + "\n", append([]string{"resolve", "-v", "-u", "admin", "--password-stdin", "--plain-http"}, images(srcRefs)...),
			1, []string{src, "401"}, nil},
		// Resolves, then pulls: the password read once must serve both.
		{"create --image, basic auth", password + "\n", create("admin", images(srcRefs)...), 0, []string{"wrote "}, createdBundle},
		{"create --lock, basic auth", password + "\n", create("admin", "--lock", srcLock), 0, []string{"wrote "}, createdBundle},
		{"create, basic auth, wrong password", wrong + "\n", create("admin", images(srcRefs)...), 1, []string{src, "401"}, noBundle},
		{"create --lock, basic auth, wrong password", wrong + "\n", create("admin", "--lock", srcLock), 1, []string{src, "401"}, noBundle},
		{"load, basic auth", password + "\n", load("admin", dst+"/mesh/{case}"), 0, nil, loadedWith(basic, nil)},
		{"load, basic auth, password without a newline", password, load("admin", dst+"/mesh/{case}"), 0, nil, loadedWith(basic, nil)},
		{"load, basic auth, wrong password", wrong + "\n", load("admin", dst+"/mesh/{case}"), 1,
			[]string{dst, "401", "rejected the credentials", "nothing was pushed"}, nil},
		{"create --image, token auth", password + "\n", create("robot", images(tokRefs)...), 0, []string{"wrote "}, createdBundle},
		{"create --lock, token auth", password + "\n", create("robot", "--lock", tokLock), 0, []string{"wrote "}, createdBundle},
		{"create --lock, token auth, wrong password", wrong + "\n", create("robot", "--lock", tokLock), 1, []string{tok, "401"}, noBundle},
		{"load, token auth, mounts", password + "\n", load("robot", tok+"/mesh/{case}"), 0, nil, loadedWith(robot, issuer)},
		{"load, token auth, wrong password", wrong + "\n", load("robot", tok+"/mesh/{case}"), 1,
			[]string{tok, "401", "rejected the credentials", "nothing was pushed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// {case}: each load starts from an empty target prefix.
			r := authRun{out: filepath.Join(t.TempDir(), "apps.tar.zst"), state: t.TempDir()}
			args := slices.Clone(tc.args)
			for i, a := range args {
				args[i] = strings.NewReplacer("{out}", r.out, "{state}", r.state, "{case}", fmt.Sprintf("case%d", n)).Replace(a)
			}
			var code int
			r.stdout, r.stderr, code = runPiped(t, tc.stdin, args...)
			texts := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
			files, _ := os.ReadDir(r.state)
			for _, f := range files {
				b, _ := os.ReadFile(filepath.Join(r.state, f.Name()))
				texts["state file "+f.Name()] = string(b)
			}
			requireNoPassword(t, texts, password, wrong)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstderr (last lines):\n%s", code, tc.wantCode, lastLinesOf(r.stderr, 6))
			}
			where := r.stderr
			if args[0] == "resolve" && code == 0 {
				where = r.stdout
			}
			for _, w := range tc.want {
				if !strings.Contains(where, w) {
					t.Errorf("output does not say %q:\n%s", w, lastLinesOf(where, 6))
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	requireNoPassword(t, map[string]string{"registry logs": logs.String()}, password, wrong)
}

// requireNoPassword fails when a text holds a password, or the base64 of
// "user:password" a Basic Authorization header carries; it never prints
// either.
func requireNoPassword(t *testing.T, texts map[string]string, passwords ...string) {
	t.Helper()
	var secrets []string
	for _, p := range passwords {
		secrets = append(secrets, p)
		for _, u := range []string{"admin", "robot"} {
			secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
		}
	}
	for name, text := range texts {
		for _, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("%s holds a password or its Basic header (%d bytes at offset %d)", name, len(s), i)
			}
		}
	}
}

// lastLinesOf returns the last n lines of s.
func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// createdBundle requires the created bundle to validate and to verify.
func createdBundle(t *testing.T, r authRun) {
	t.Helper()
	if err := bundle.Validate(r.out); err != nil {
		t.Fatalf("bundle.Validate: %v", err)
	}
	br, err := bundle.Open(r.out)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if _, err := mirror.Verify(context.Background(), br, mirror.VerifyOptions{AllowUnsigned: true}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	bom, err := br.BOM()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, a := range bom.Artifacts {
		kinds[a.Kind]++
	}
	if len(bom.Artifacts) != 4 || kinds[bundle.KindImage] != 2 || kinds[bundle.KindReferrer] != 2 {
		t.Errorf("got artifacts %v in the bundle, want the 2 images and the SBOM referrer of each", kinds)
	}
}

// noBundle requires a failed create to leave no file behind.
func noBundle(t *testing.T, r authRun) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(r.out))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed create left %s behind", e.Name())
	}
}

// loadedWith requires a load that pushed and mounted, whose every artifact
// resolves at the target with cred; with an issuer, it must have granted
// push on one repository and pull on another in one token (a mount).
func loadedWith(cred auth.Credential, issuer *registrytest.TokenIssuer) func(*testing.T, authRun) {
	return func(t *testing.T, r authRun) {
		t.Helper()
		var res mirror.LoadResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("bundle load -o json: %v\n%s", err, r.stdout)
		}
		if len(res.Artifacts) == 0 || res.BlobsMounted == 0 {
			t.Errorf("got %d artifacts and %d blobs mounted, want both > 0 (team/app and team/api share a layer)", len(res.Artifacts), res.BlobsMounted)
		}
		for _, a := range res.Artifacts {
			repo, err := orasremote.NewRepository(a.Repository)
			if err != nil {
				t.Fatal(err)
			}
			repo.PlainHTTP = true
			repo.Client = &auth.Client{Credential: auth.StaticCredential(repo.Reference.Registry, cred)}
			ref := a.Tag
			if ref == "" { // a referrer (the bundle SBOM) is pushed by digest
				ref = a.Digest
			}
			desc, err := repo.Resolve(context.Background(), ref)
			if err != nil || desc.Digest.String() != a.Digest {
				t.Errorf("%s:%s: got %s (%v), want %s", a.Repository, ref, desc.Digest, err, a.Digest)
			}
		}
		if issuer == nil {
			return
		}
		for _, req := range issuer.Requests() {
			var push, pull []string
			for _, g := range req.Granted {
				name, actions, _ := strings.Cut(strings.TrimPrefix(g, "repository:"), ":")
				if strings.Contains(actions, "push") {
					push = append(push, name)
				} else {
					pull = append(pull, name)
				}
			}
			for _, p := range push {
				for _, q := range pull {
					if p != q {
						return
					}
				}
			}
		}
		t.Errorf("the issuer granted no token with push on one repository and pull on another (a cross-repository mount): %+v", issuer.Requests())
	}
}

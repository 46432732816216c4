package mirror_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/remote"
)

// authEnv is a source registry holding two images that share a layer, a
// lock pinning them, a bundle made from them, and where to load it; every
// log line of meshpack and of the registries goes to logs.
type authEnv struct {
	src    string // host of the source registry
	dst    string // load target HOST/PREFIX (each case loads below it)
	lock   *manifests.Lock
	bundle string
	imgs   []testImage
	logs   *registrytest.LogBuffer
}

// authCase is one create or load with some credentials.
type authCase struct {
	name string
	// op is "create" (pull from env.src) or "load" (push to env.dst).
	op             string
	user, password string
	// wantErr is nil for success, errAny for any error; want are texts the
	// error must contain.
	wantErr error
	want    []string
	// check looks at a successful load.
	check func(t *testing.T, res *mirror.LoadResult)
}

// debugLogger logs everything, debug included, to w.
func debugLogger(w *registrytest.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// emptyDockerConfig keeps the machine's docker credentials out of a test.
func emptyDockerConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// authClient is the client `-u user --password-stdin` builds (no
// credentials at all when user is empty).
func authClient(t *testing.T, user, password string, logs *registrytest.LogBuffer) *remote.Client {
	t.Helper()
	c, err := remote.New(remote.Options{
		PlainHTTP: true, Username: user, Password: password,
		DockerConfig: emptyDockerConfig(t), Logger: debugLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newAuthEnv pushes team/app:1 and team/api:1 (sharing their first layer)
// into src with cred, pins them and creates a bundle of them.
func newAuthEnv(ctx context.Context, t *testing.T, src, dst string, cred auth.Credential, logs *registrytest.LogBuffer) *authEnv {
	t.Helper()
	shared := seededBytes(10, 256<<10)
	env := &authEnv{src: src, dst: dst, logs: logs}
	for i, repo := range []string{"team/app", "team/api"} {
		env.imgs = append(env.imgs, pushTestImage(ctx, t, src, repo, "1", &cred, shared, seededBytes(uint64(11+i), 128<<10)))
	}
	c := authClient(t, cred.Username, cred.Password, logs)
	env.lock = resolveTestLock(ctx, t, c, env.imgs[0].ref, env.imgs[1].ref)
	env.bundle = filepath.Join(t.TempDir(), "apps.tar.zst")
	if _, err := mirror.Create(ctx, env.lock, env.bundle, mirror.CreateOptions{PullOptions: mirror.PullOptions{Client: c, AllowUnsigned: true}}); err != nil {
		t.Fatalf("create the bundle to load: %v", err)
	}
	return env
}

// run runs the cases in order; no error and no log line may contain a
// password or the base64 a Basic header carries.
func (env *authEnv) run(t *testing.T, cases []authCase) {
	texts := map[string]string{}
	var secrets []string
	for i, tc := range cases {
		if tc.password != "" {
			secrets = append(secrets, tc.password, base64.StdEncoding.EncodeToString([]byte(tc.user+":"+tc.password)))
		}
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := authClient(t, tc.user, tc.password, env.logs)
			var (
				res *mirror.LoadResult
				err error
			)
			dir := t.TempDir()
			switch tc.op {
			case "create":
				out := filepath.Join(dir, "apps.tar.zst")
				_, err = mirror.Create(ctx, env.lock, out, mirror.CreateOptions{PullOptions: mirror.PullOptions{
					Client: c, AllowUnsigned: true, Logger: debugLogger(env.logs),
				}})
				if err == nil {
					checkCreatedBundle(ctx, t, out, env.imgs...)
				}
			case "load":
				r, oerr := bundle.Open(env.bundle)
				if oerr != nil {
					t.Fatal(oerr)
				}
				defer r.Close()
				// A prefix per case: each load starts from an empty target.
				target := fmt.Sprintf("%s/case%d", env.dst, i)
				res, err = mirror.Load(ctx, r, target, mirror.LoadOptions{
					Client: c, AllowUnsigned: true, StateDir: dir, Logger: debugLogger(env.logs), Backoff: 20 * time.Millisecond,
				})
			default:
				t.Fatalf("op %q", tc.op)
			}
			if err != nil {
				texts[tc.name+" error"] = err.Error()
			}
			if tc.op == "load" { // the journal directory
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
					texts[tc.name+" state file "+e.Name()] = string(b)
				}
			}
			t.Logf("%s as %q: %v", tc.op, tc.user, err)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("%s: %v", tc.op, err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("%s succeeded, want an error", tc.op)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("got error %v, want one matching %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if tc.wantErr != nil && tc.op == "create" {
				requireNothingWritten(t, dir)
			}
			if tc.check != nil && res != nil {
				tc.check(t, res)
			}
		})
	}
	texts["logs (meshpack and registries)"] = env.logs.String()
	slices.Sort(secrets)
	requireNoSecret(t, texts, slices.Compact(secrets)...)
}

// loadedAll resolves every artifact of a load at the target with cred.
func loadedAll(cred auth.Credential) func(*testing.T, *mirror.LoadResult) {
	return func(t *testing.T, res *mirror.LoadResult) {
		t.Helper()
		if res.BlobsPushed == 0 || res.ManifestsPushed == 0 {
			t.Errorf("got %d blobs and %d manifests pushed, want some of both", res.BlobsPushed, res.ManifestsPushed)
		}
		if res.BlobsMounted == 0 {
			t.Errorf("got no blob mounted, want the layer team/app and team/api share mounted across repositories")
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
	}
}

// TestCreateLoadBasicAuth pulls from and pushes to registries that want
// HTTP basic auth (Distribution with htpasswd), with the credentials
// `-u USER --password-stdin` gives: the right password works both ways, a
// wrong or missing one fails naming the registry and the 401, and no
// password reaches an error or a log line.
func TestCreateLoadBasicAuth(t *testing.T) {
	const user, password = "admin", "Basic-pw-3f9c2e71a"
	htpasswd := registrytest.Htpasswd(t, user, password)
	logs := &registrytest.LogBuffer{}
	src := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd, Logger: debugLogger(logs)})
	dst := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd, Logger: debugLogger(logs)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cred := auth.Credential{Username: user, Password: password}
	env := newAuthEnv(ctx, t, src, dst+"/mesh", cred, logs)
	const wrong = "Wrong-pw-77c1d0e4b"
	env.run(t, []authCase{
		{name: "create with the right password", op: "create", user: user, password: password},
		{name: "create with a wrong password", op: "create", user: user, password: wrong, wantErr: errAny, want: []string{src, "401"}},
		{name: "create without credentials", op: "create", wantErr: errAny, want: []string{src, "credential"}},
		{name: "load with the right password", op: "load", user: user, password: password, check: loadedAll(cred)},
		{name: "load with a wrong password", op: "load", user: user, password: wrong, wantErr: mirror.ErrUnauthorized,
			want: []string{dst, "401", "rejected the credentials", "user admin", "nothing was pushed"}},
	})
}

// TestCreateLoadTokenAuth pulls from and pushes to Distribution configured
// for bearer-token auth, as Harbor, Quay and GitLab registries are: a test
// token issuer grants pull and push per repository. The right password
// works both ways, cross-repository mounts included (a token with push on
// the target and pull on the source repository); a wrong password, or an
// account without push rights, fails naming the registry; no password
// reaches an error or a log line.
func TestCreateLoadTokenAuth(t *testing.T) {
	const password, readerPassword = "Robot-pw-5be01c9dd", "Reader-pw-0a4f6e2c1"
	users := map[string]registrytest.TokenUser{
		"robot":  {Password: password, Grants: map[string][]string{"team/": {"pull", "push"}, "mesh/": {"pull", "push"}}},
		"reader": {Password: readerPassword, Grants: map[string][]string{"team/": {"pull"}, "mesh/": {"pull"}}},
	}
	logs := &registrytest.LogBuffer{}
	host, issuer := registrytest.NewTokenAuth(t, registry.Config{Root: t.TempDir(), Logger: debugLogger(logs)}, users)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cred := auth.Credential{Username: "robot", Password: password}
	env := newAuthEnv(ctx, t, host, host+"/mesh", cred, logs)
	const wrong = "Wrong-pw-c3d9a17e0"
	env.run(t, []authCase{
		{name: "create with the right password", op: "create", user: "robot", password: password},
		{name: "create with a pull-only account", op: "create", user: "reader", password: readerPassword},
		{name: "create with a wrong password", op: "create", user: "robot", password: wrong, wantErr: errAny, want: []string{host, "401"}},
		{name: "load with the right password", op: "load", user: "robot", password: password, check: func(t *testing.T, res *mirror.LoadResult) {
			loadedAll(cred)(t, res)
			if !sawMountScopes(issuer.Requests(), "robot") {
				t.Errorf("the issuer got no token request for a mount (push on one repository, pull on another): %+v", issuer.Requests())
			}
		}},
		{name: "load with a wrong password", op: "load", user: "robot", password: wrong, wantErr: mirror.ErrUnauthorized,
			want: []string{host, "401", "rejected the credentials", "user robot", "nothing was pushed"}},
		{name: "load with a pull-only account", op: "load", user: "reader", password: readerPassword, wantErr: mirror.ErrUnauthorized,
			want: []string{host + "/mesh/", "401", "push rights"}},
	})
}

// sawMountScopes reports whether account got a token granting push on one
// repository and pull on another in the same request, as a cross-repository
// mount needs.
func sawMountScopes(reqs []registrytest.TokenRequest, account string) bool {
	for _, r := range reqs {
		if r.Account != account || len(r.Granted) < 2 {
			continue
		}
		var push, pullOnly []string
		for _, g := range r.Granted {
			name, actions, _ := strings.Cut(strings.TrimPrefix(g, "repository:"), ":")
			if slices.Contains(strings.Split(actions, ","), "push") {
				push = append(push, name)
			} else {
				pullOnly = append(pullOnly, name)
			}
		}
		for _, p := range push {
			for _, q := range pullOnly {
				if p != q {
					return true
				}
			}
		}
	}
	return false
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// serveRegistry runs `meshpack registry serve` on a free loopback port until
// the test ends and returns its address; extra flags are appended.
func serveRegistry(t *testing.T, extra ...string) string {
	t.Helper()
	return serveRegistryWith(t, append([]string{"--root", t.TempDir()}, extra...)...)
}

// serveRegistryWith runs registry serve with args (which name the storage)
// on a free loopback port until the test ends and returns HOST:PORT.
func serveRegistryWith(t *testing.T, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out, errOut bytes.Buffer
	root := newRootCmd(strings.NewReader(""), &out, &errOut)
	root.SetArgs(append([]string{"registry", "serve", "--addr", addr}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("registry serve after SIGINT: got %v, want a clean stop", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("registry serve did not stop within 30s of cancellation")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("registry serve exited: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry serve on %s not ready after 10s: %v\n%s", addr, err, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestE2ELoad creates a split bundle, serves the embedded registry with
// `registry serve`, loads the bundle into it from its first part and from
// its base name (the second load sends nothing), and checks every digest.
func TestE2ELoad(t *testing.T) {
	e := env(t)
	path := e.createBundle(t, "--split", "4MiB")
	addr := serveRegistry(t)
	stateDir := t.TempDir()

	out, errOut, code := runCLI(t, "", "bundle", "load", path+".000", "--registry", addr+"/mesh", "--key", e.pub(),
		"--plain-http", "--state-dir", stateDir, "-o", "json")
	if code != 0 {
		t.Fatalf("bundle load: exit %d\n%s", code, errOut)
	}
	var res mirror.LoadResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bundle load -o json: %v\n%s", err, out)
	}
	if res.BlobsPushed == 0 || res.Verified != "digests+signatures" {
		t.Errorf("got %d blobs pushed, verified %q; want blobs pushed after checking digests and signatures", res.BlobsPushed, res.Verified)
	}
	checkRegistry(t, path+".000", &res, nil)
	if left, _ := filepath.Glob(filepath.Join(stateDir, "*.journal")); len(left) != 0 {
		t.Errorf("got journal files %v after a complete load, want none", left)
	}

	out, errOut, code = runCLI(t, "", "bundle", "load", path, "--registry", addr+"/mesh", "--key", e.pub(), "--plain-http", "--state-dir", "none")
	if code != 0 {
		t.Fatalf("second bundle load: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"blobs: 0 pushed (0 B", "manifests: 0 pushed", "tags: 0 set", "KIND", addr + "/mesh/istio/pilot:1.30.3-distroless@sha256:", "cosign signatures"} {
		if !strings.Contains(out, want) {
			t.Errorf("second load summary lacks %q:\n%s", want, out)
		}
	}
}

// TestE2ELoadRefusesBadPart: a split part that no longer matches
// NAME.sha256 stops the load before anything is pushed.
func TestE2ELoadRefusesBadPart(t *testing.T) {
	e := env(t)
	path := e.createBundle(t, "--split", "4MiB")
	part := path + ".001"
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(part, data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := serveRegistry(t)
	_, errOut, code := runCLI(t, "", "bundle", "load", path+".000", "--registry", addr+"/mesh", "--key", e.pub(), "--plain-http", "--state-dir", "none")
	if code == 0 || !strings.Contains(errOut, "nothing was pushed") || !strings.Contains(errOut, filepath.Base(part)) {
		t.Fatalf("load of a bundle with a bad part: exit %d, stderr %q; want a refusal naming %s", code, errOut, filepath.Base(part))
	}
	resp, err := http.Get("http://" + addr + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cat struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&cat); err != nil || len(cat.Repositories) != 0 {
		t.Errorf("catalog after the refused load: %v (err %v), want empty", cat.Repositories, err)
	}
}

// checkRegistry resolves every artifact's reference from a load result and
// compares it with the bundle's digest.
func checkRegistry(t *testing.T, path string, res *mirror.LoadResult, cred *auth.Credential) {
	t.Helper()
	bom := openBOM(t, path)
	if len(res.Artifacts) != len(bom.Artifacts) {
		t.Fatalf("got %d artifacts, want %d", len(res.Artifacts), len(bom.Artifacts))
	}
	for i, a := range res.Artifacts {
		repo, err := remote.NewRepository(a.Repository)
		if err != nil {
			t.Fatal(err)
		}
		repo.PlainHTTP = true
		if cred != nil {
			repo.Client = &auth.Client{Credential: auth.StaticCredential(repo.Reference.Registry, *cred)}
		}
		ref := a.Tag
		if ref == "" { // an SBOM or attestation referrer: by digest
			ref = bom.Artifacts[i].Digest
		}
		desc, err := repo.Resolve(context.Background(), ref)
		if err != nil || desc.Digest.String() != bom.Artifacts[i].Digest {
			t.Errorf("%s:%s: got %s (%v), want %s", a.Repository, ref, desc.Digest, err, bom.Artifacts[i].Digest)
		}
	}
}

// TestE2ELoadFlags checks flag errors, the loud warnings and credentials
// read from stdin.
func TestE2ELoadFlags(t *testing.T) {
	e := env(t)
	path := e.createBundle(t)
	htpasswd := registrytest.Htpasswd(t, "admin", "s3cret")
	addr := serveRegistry(t, "--htpasswd", htpasswd)
	load := []string{"bundle", "load", path, "--registry", addr + "/mesh", "--plain-http", "--state-dir", "none"}
	for _, tc := range []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no registry", "", []string{"bundle", "load", path}, 2, "--registry HOST[:PORT][/PREFIX] is required"},
		{"key and skip", "", append(load[:len(load):len(load)], "--key", e.pub(), "--skip-bundle-verify"), 2, "excludes --key"},
		{"old skip flag", "", append(load[:len(load):len(load)], "--insecure-skip-verify"), 2, "renamed to --skip-bundle-verify"},
		{"key and allow unsigned", "", append(load[:len(load):len(load)], "--key", e.pub(), "--allow-unsigned"), 2, "exclude each other"},
		{"no key refused", "", load, 2, "--allow-unsigned"},
		{"bad path mode", "", append(load[:len(load):len(load)], "--path-mode", "deep", "--key", e.pub()), 2, "want keep or flatten"},
		{"bad output", "", append(load[:len(load):len(load)], "-o", "xml"), 2, "--output"},
		{"wrong password", "guess\n", append(load[:len(load):len(load)], "-u", "admin", "--password-stdin", "--key", e.pub()), 1, "--password-stdin"},
		{"wrong key", "s3cret\n", append(load[:len(load):len(load)], "-u", "admin", "--password-stdin", "--key", e.otherPub), 1, "nothing was pushed"},
		{"skip verify", "s3cret\n", append(load[:len(load):len(load)], "-u", "admin", "--password-stdin", "--skip-bundle-verify"), 0, "WARNING: --skip-bundle-verify"},
		{"allow unsigned", "s3cret\n", append(load[:len(load):len(load)], "-u", "admin", "--password-stdin", "--allow-unsigned"), 0, "WARNING: --allow-unsigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, tc.stdin, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("got exit %d, want %d with %q in stderr:\n%s", code, tc.wantCode, tc.wantErr, errOut)
			}
		})
	}
}

// TestRegistryServeFlags checks that `registry serve` refuses bad
// configurations before listening.
func TestRegistryServeFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"no root", []string{"registry", "serve"}, 2, "--root DIR or --config FILE is required"},
		{"half a key pair", []string{"registry", "serve", "--root", t.TempDir(), "--tls-cert", "x.crt", "--addr", "127.0.0.1:0"}, 1, "want both or neither"},
		{"missing htpasswd", []string{"registry", "serve", "--root", t.TempDir(), "--htpasswd", filepath.Join(t.TempDir(), "none"), "--addr", "127.0.0.1:0"}, 1, "htpasswd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tc.args...)
			if code != tc.want || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("got exit %d, want %d with %q in stderr:\n%s", code, tc.want, tc.wantErr, errOut)
			}
		})
	}
}

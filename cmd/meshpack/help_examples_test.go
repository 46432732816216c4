package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

// exampleOrder is the journey the --help examples run in: each step reads
// what an earlier one wrote (keys, lock, bundles). A command with examples
// that is missing here fails the test.
var exampleOrder = []string{"version", "versions", "keys generate", "resolve", "bundle create",
	"bundle inspect", "bundle diff", "bundle verify", "bundle extract", "bundle sbom", "registry serve", "bundle load", "registry list", "registry inventory", "install", "audit",
	"namespace add", "namespace list", "phase set", "namespace remove",
	"upgrade", "upgrade rollback", "upgrade promote", "upgrade finish", "status", "uninstall",
	"bundle unload", "registry gc", "cache prune"}

// example is one Example line of a command's --help.
type example struct {
	command string   // "bundle create"
	line    string   // as written
	args    []string // after "meshpack", without the stdin redirection
	stdin   string   // file named by "< FILE", if any
}

// TestHelpExamples runs every Example line of every command, as written,
// against the fixture upstream, in a working directory holding the inputs
// the examples name (istio-key.pub, mesh.yaml, token, htpasswd, tls.crt,
// tls.key). What the demo environment changes is only where hosts are: the
// fixture mirrors are appended to commands that take --mirror, the example
// registries are registries served by `registry serve` on free loopback
// ports, and fixed ports and absolute directories become free ports and
// temporary directories.
func TestHelpExamples(t *testing.T) {
	e := env(t)
	examples := collectExamples(t, newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}))
	dir := t.TempDir()
	writeExampleInputs(t, dir, e)
	t.Setenv("COSIGN_PASSWORD", testPassword)
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "home", ".cache"))
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "home", ".docker"))
	t.Chdir(dir)
	openRoot := t.TempDir()
	open := serveRegistry(t, "--allow-delete", "--root", openRoot)
	authed := serveRegistry(t, "--htpasswd", filepath.Join(dir, "htpasswd"))
	hosts := strings.NewReplacer(
		"registry.internal:5000", open, "127.0.0.1:5000", open, "harbor.internal", authed,
		"nexus.example.com/dockerhub", fixtureMirror(t, e, "docker.io"),
		"/var/lib/meshpack/registry", openRoot)
	kubeconfig := exampleCluster(t, dir)
	for _, ex := range examples {
		t.Run(ex.command+": "+ex.line, func(t *testing.T) {
			if needsCluster(ex) && kubeconfig == "" {
				t.Skip("needs a kube-apiserver: MESHPACK_KUBE_APISERVER=1 (make test)")
			}
			args := make([]string, len(ex.args))
			for i, a := range ex.args {
				args[i] = hosts.Replace(a)
			}
			if ex.command == "registry serve" {
				runServeExample(t, args)
				return
			}
			if cmd, _, err := newRootCmd(strings.NewReader(""), io.Discard, io.Discard).Find(args); err == nil && cmd.Flags().Lookup("mirror") != nil {
				args = append(args, e.mirrors...)
			}
			stdin := ""
			if ex.stdin != "" {
				b, err := os.ReadFile(ex.stdin)
				if err != nil {
					t.Fatal(err)
				}
				stdin = string(b)
			}
			out, errOut, code := runCLI(t, stdin, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if slices.Contains(ex.args, "json") && !json.Valid([]byte(out)) {
				t.Errorf("-o json printed no JSON:\n%s", out)
			}
			if strings.Contains(errOut, "deprecated") {
				t.Errorf("the example uses a deprecated spelling:\n%s", errOut)
			}
		})
	}
}

// collectExamples returns every Example line of root's commands in
// exampleOrder.
func collectExamples(t *testing.T, root *cobra.Command) []example {
	t.Helper()
	byCommand := map[string][]example{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		name := strings.TrimPrefix(c.CommandPath(), "meshpack ")
		for _, line := range strings.Split(c.Example, "\n") {
			line, _, _ = strings.Cut(line, "  #")
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if !strings.HasPrefix(line, "meshpack "+name+" ") && line != "meshpack "+name {
				t.Errorf("%s: example %q does not run %q", name, line, "meshpack "+name)
				continue
			}
			if strings.ContainsAny(line, "\"'`$|;&~") {
				t.Errorf("%s: example %q needs a shell; keep examples to words and one < FILE", name, line)
				continue
			}
			ex := example{command: name, line: line}
			fields := strings.Fields(line)[1:]
			for i := 0; i < len(fields); i++ {
				if fields[i] == "<" && i+1 < len(fields) {
					ex.stdin = fields[i+1]
					i++
					continue
				}
				ex.args = append(ex.args, fields[i])
			}
			byCommand[name] = append(byCommand[name], ex)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var out []example
	for _, name := range exampleOrder {
		if len(byCommand[name]) == 0 {
			t.Errorf("%s has no --help example", name)
		}
		out = append(out, byCommand[name]...)
		delete(byCommand, name)
	}
	for name := range byCommand {
		t.Errorf("%s has examples but is not in exampleOrder", name)
	}
	return out
}

// fixtureMirror returns the fixture's replacement for origin.
func fixtureMirror(t *testing.T, e *e2eEnv, origin string) string {
	t.Helper()
	for _, m := range e.mirrors {
		if o, r, ok := strings.Cut(m, "="); ok && o == origin {
			return r
		}
	}
	t.Fatalf("the fixture has no mirror for %s", origin)
	return ""
}

// writeExampleInputs writes the files the examples read but no example
// writes.
func writeExampleInputs(t *testing.T, dir string, e *e2eEnv) {
	t.Helper()
	pub, err := os.ReadFile(e.istioPub)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	crt, key := selfSignedPEM(t)
	for name, data := range map[string]string{
		"istio-key.pub": string(pub),
		"mesh.yaml":     "apiVersion: meshpack.lattice.dev/v1alpha1\nkind: MeshBundle\nistio: {version: \"1.30\", profile: ambient}\nkiali: {enabled: true}\n",
		"token":         "s3cret\n",
		"htpasswd":      "robot:" + string(hash) + "\n",
		"tls.crt":       crt,
		"tls.key":       key,
		// registry serve --config: the example's real use is s3; the test
		// has no object store at hand, and the file is read the same way.
		"registry.yaml": "version: 0.1\nhttp:\n  secret: example\nstorage:\n  filesystem:\n    rootdirectory: " + filepath.Join(dir, "registry-data") + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// runServeExample runs a `registry serve` example on free ports until it
// answers /v2/, then stops it as Ctrl-C would.
func runServeExample(t *testing.T, args []string) {
	t.Helper()
	port := freePort(t)
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "/"):
			args[i] = t.TempDir()
		case strings.HasSuffix(a, ":5000"):
			args[i] = "0.0.0.0:" + port
		}
	}
	if !slices.Contains(args, "--addr") {
		args = append(args, "--addr", "127.0.0.1:"+port)
	}
	scheme := "http"
	if slices.Contains(args, "--tls-cert") {
		scheme = "https"
	}
	var out, errOut bytes.Buffer
	root := newRootCmd(strings.NewReader(""), &out, &errOut)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(scheme + "://127.0.0.1:" + port + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("registry serve exited: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("registry serve not ready after 10s: %v\n%s", err, errOut.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("registry serve after Ctrl-C: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("registry serve did not stop within 30s")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// selfSignedPEM returns a certificate for 127.0.0.1 and localhost and its key.
func selfSignedPEM(t *testing.T) (crt, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meshpack example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// needsCluster reports whether an example talks to a Kubernetes cluster.
func needsCluster(ex example) bool {
	switch ex.command {
	case "phase set":
		return !slices.Contains(ex.args, "--render")
	case "audit", "uninstall", "namespace add", "namespace remove", "namespace list", "status",
		"upgrade rollback", "upgrade promote", "upgrade finish":
		return true
	case "install", "upgrade":
		return !slices.Contains(ex.args, "--render")
	}
	return false
}

// exampleCluster starts a kube-apiserver for the examples, when one can be
// built, and writes its kubeconfig where they look: enclave.kubeconfig in
// dir and the default ~/.kube/config of the examples' HOME. The test plays
// the controllers, so an install's --wait sees its workloads roll out.
// It returns "" when no kube-apiserver is available.
func exampleCluster(t *testing.T, dir string) string {
	t.Helper()
	if os.Getenv("MESHPACK_KUBE_APISERVER") != "1" && os.Getenv("MESHPACK_REQUIRE_TOOLS") != "1" {
		return ""
	}
	kc := kubeServer(t)
	data, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "enclave.kubeconfig"), filepath.Join(dir, "home", ".kube", "config")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kube := kubeClient(t, kc)
	for _, ns := range []string{"team-a", "team-b"} {
		if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// client-go found ~/.kube/config before HOME moved; KUBECONFIG is
	// what a user of that HOME would have.
	t.Setenv("KUBECONFIG", filepath.Join(dir, "home", ".kube", "config"))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go playController(ctx, kube)
	return kc
}

package remote

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// proxyChildEnv marks the re-executed test binary of TestTransportProxy.
const proxyChildEnv = "MESHPACK_TEST_PROXY_CHILD"

// TestTransportProxy checks that the transport New builds honours
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY. net/http reads those variables once
// per process, so the test runs itself again as a child process with them
// set; the child does the checks.
func TestTransportProxy(t *testing.T) {
	const proxy = "http://127.0.0.1:3128"
	if os.Getenv(proxyChildEnv) != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestTransportProxy$", "-test.v")
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); !strings.EqualFold(k, "HTTPS_PROXY") && !strings.EqualFold(k, "HTTP_PROXY") &&
				!strings.EqualFold(k, "NO_PROXY") && !strings.EqualFold(k, "ALL_PROXY") && k != "REQUEST_METHOD" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, proxyChildEnv+"=1", "HTTPS_PROXY="+proxy, "HTTP_PROXY="+proxy, "NO_PROXY=internal.example")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	tr, err := newTransport(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Proxy == nil {
		t.Fatal("transport has no Proxy func: HTTPS_PROXY and NO_PROXY would be ignored")
	}
	tests := []struct {
		name, url, want string
	}{
		{"https registry", "https://registry.example:5000/v2/", proxy},
		{"plain http registry", "http://registry.example:5000/v2/", proxy},
		{"host in NO_PROXY", "https://internal.example/v2/", ""},
		{"subdomain of NO_PROXY", "https://registry.internal.example/v2/", ""},
		{"loopback is never proxied", "https://127.0.0.1:5000/v2/", ""},
		{"localhost is never proxied", "http://localhost:5000/v2/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			u, err := tr.Proxy(req)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if u != nil {
				got = u.String()
			}
			if got != tt.want {
				t.Errorf("proxy for %s = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

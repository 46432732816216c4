package signing

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies checks that signing uses cosign's libraries, not its CLI
// packages, and imports no other meshpack package but the leaves mediatype
// (constants), atomicfile (publishing files) and progress (the one progress
// event). (cosign's pkg/cosign itself pulls in cobra through
// sassoftware/relic; that cannot be avoided.)
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch p {
		case "github.com/lattice-mesh/meshpack/signing", "github.com/lattice-mesh/meshpack/mediatype", "github.com/lattice-mesh/meshpack/atomicfile",
			"github.com/lattice-mesh/meshpack/progress":
			continue
		}
		for _, bad := range []string{
			"github.com/sigstore/cosign/v2/cmd",
			"github.com/lattice-mesh/meshpack/",
		} {
			if strings.HasPrefix(p, bad) {
				t.Errorf("signing depends on %s, want no %s* packages", p, bad)
			}
		}
	}
}

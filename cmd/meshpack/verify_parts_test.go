package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
)

// TestVerifySplitChecksumListing checks that `bundle verify` of a split set
// reports its NAME.sha256 problems as a failed parts check instead of "ok".
func TestVerifySplitChecksumListing(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(base string) error
		wantLine string // the parts line of the report
		wantErr  string // in stdout or stderr
	}{
		{"intact", func(string) error { return nil }, "ok   parts", ""},
		{"no checksum listing", func(b string) error { return os.Remove(bundle.SumsName(b)) }, "FAIL parts", "has no checksum listing"},
		{"listing names a file outside the set", func(b string) error {
			return os.WriteFile(bundle.SumsName(b), []byte(strings.Repeat("0", 64)+"  ../../etc/hostname\n"), 0o644)
		}, "FAIL parts", `lists "../../etc/hostname", which is not a part of this split set`},
		{"a part is a link to /dev/zero", func(b string) error {
			if err := os.Remove(b + ".001"); err != nil {
				return err
			}
			return os.Symlink("/dev/zero", b+".001")
		}, "FAIL parts", "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := splitBOMBundle(t)
			if err := tt.damage(base); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, errOut, code := runCLI(t, "", "bundle", "verify", "--allow-unsigned", base+".000")
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("verify took %v", d)
			}
			if !strings.Contains(out, tt.wantLine) || !strings.Contains(out+errOut, tt.wantErr) {
				t.Errorf("verify: exit %d, want %q and %q in the output:\n%s%s", code, tt.wantLine, tt.wantErr, out, errOut)
			}
			if tt.wantLine != "ok   parts" && code == 0 {
				t.Errorf("verify exit 0, want a failure")
			}
		})
	}
}

// splitBOMBundle writes a small bundle split into several parts and returns
// its base name.
func splitBOMBundle(t *testing.T) string {
	t.Helper()
	single := writeBOMBundle(t, bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion, Signed: false, Unsigned: "--allow-unsigned"})
	data, err := os.ReadFile(single)
	if err != nil {
		t.Fatal(err)
	}
	base := single + ".split"
	f, err := bundle.Create(base, bundle.CreateOptions{SplitSize: int64(len(data)/3 + 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	r, err := bundle.Open(single)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := f.Writer()
	for _, name := range []string{bundle.OCILayoutName, bundle.IndexName, bundle.BOMName} {
		b, err := r.File(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddFile(name, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(f.Parts()) < 2 {
		t.Fatalf("got %d parts, want several", len(f.Parts()))
	}
	return base
}

// TestLoadRefusesBadSplitListing checks that `bundle load` pushes nothing
// from a split set whose NAME.sha256 is missing or lists other files.
func TestLoadRefusesBadSplitListing(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(base string) error
		wantErr string
	}{
		{"no checksum listing", func(b string) error { return os.Remove(bundle.SumsName(b)) }, "has no checksum listing"},
		{"listing names an absolute path", func(b string) error {
			return os.WriteFile(bundle.SumsName(b), []byte(strings.Repeat("0", 64)+"  /etc/hostname\n"), 0o644)
		}, `lists "/etc/hostname", which is not a part`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := splitBOMBundle(t)
			if err := tt.damage(base); err != nil {
				t.Fatal(err)
			}
			// Nothing listens on port 1: a load that got past the check would fail differently.
			_, errOut, code := runCLI(t, "", "bundle", "load", base+".000", "--registry", "127.0.0.1:1/mesh",
				"--allow-unsigned", "--plain-http", "--state-dir", "none")
			if code == 0 || !strings.Contains(errOut, "load refused, nothing was pushed") || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("load: exit %d, want a refusal containing %q:\n%s", code, tt.wantErr, errOut)
			}
		})
	}
}

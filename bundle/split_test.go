package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitParts(t *testing.T) {
	fx := newFixture(t)
	dir := t.TempDir()
	single := filepath.Join(dir, "single.tar.zst")
	if got := fx.writeFile(t, single, CreateOptions{}); !cmp.Equal(got, []string{single}) {
		t.Errorf("Parts() = %q, want [%q]", got, single)
	}
	want, err := os.ReadFile(single)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "mesh.tar.zst")
	const split = 64 << 10
	written := fx.writeFile(t, base, CreateOptions{SplitSize: split})
	parts, _ := filepath.Glob(base + ".[0-9][0-9][0-9]")
	if n := (len(want) + split - 1) / split; len(parts) != n {
		t.Fatalf("got %d parts, want %d", len(parts), n)
	}
	if diff := cmp.Diff(parts, written); diff != "" {
		t.Errorf("Parts() (-files on disk +got):\n%s", diff)
	}
	var joined []byte
	for _, p := range parts {
		b, _ := os.ReadFile(p)
		joined = append(joined, b...)
	}
	if !bytes.Equal(joined, want) {
		t.Fatalf("concatenated parts (%d bytes) differ from the single-file bundle (%d bytes)", len(joined), len(want))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(leftovers) > 0 {
		t.Errorf("partial files left after Commit: %v", leftovers)
	}
	sums, err := os.ReadFile(SumsName(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{base, base + ".000"} {
		t.Run("open "+filepath.Base(name), func(t *testing.T) {
			r, err := Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := Verify(context.Background(), r, VerifyOptions{}); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	t.Run("open a later part", func(t *testing.T) {
		if _, err := Open(base + ".001"); err == nil || !strings.Contains(err.Error(), ".000") {
			t.Errorf("Open(.001) = %v, want an error pointing at .000", err)
		}
	})
	t.Run("VerifyParts", func(t *testing.T) {
		if _, err := VerifyParts(context.Background(), base, VerifyOptions{}); err != nil {
			t.Errorf("VerifyParts: %v", err)
		}
	})
	t.Run("sha256sum -c", func(t *testing.T) {
		requireTool(t, "sha256sum")
		// run fails the test on a non-zero exit; without --strict GNU
		// sha256sum only warns about the binary frame header line.
		out := run(t, "", "sh", "-c", `cd "$0" && sha256sum -c "$1"`, dir, filepath.Base(SumsName(base)))
		var want []string
		for _, p := range parts {
			want = append(want, filepath.Base(p)+": OK")
		}
		if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out), "\n")); diff != "" {
			t.Errorf("sha256sum -c output (-want +got):\n%s", diff)
		}
	})
	t.Run("cat numbered parts restores the single file", func(t *testing.T) {
		requireTool(t, "cat")
		out := filepath.Join(t.TempDir(), "joined.tar.zst")
		run(t, "", "sh", "-c", `cat "$0".[0-9][0-9][0-9] > "$1"`, base, out)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Errorf("cat NAME.[0-9][0-9][0-9] gives %d bytes that differ from the %d-byte single file", len(got), len(want))
		}
	})
	t.Run("cat NAME.* reads everywhere", func(t *testing.T) {
		requireTool(t, "cat")
		out := filepath.Join(t.TempDir(), "mesh.tar.zst")
		run(t, "", "sh", "-c", `cat "$0".* > "$1"`, base, out)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, append(bytes.Clone(want), sums...)) {
			t.Fatalf("cat NAME.* gives %d bytes, want the %d-byte single file followed by the %d-byte NAME.sha256", len(got), len(want), len(sums))
		}
		r, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if s := r.Stats(); !s.Seekable || s.Compressed != int64(len(want)) {
			t.Errorf("Stats() = Seekable %v, Compressed %d; want seekable and %d bytes (%s)", s.Seekable, s.Compressed, len(want), r.NotSeekable())
		}
		if _, err := Verify(context.Background(), r, VerifyOptions{}); err != nil {
			t.Errorf("Verify: %v", err)
		}
		if err := Validate(out); err != nil {
			t.Errorf("Validate: %v", err)
		}
		if _, err := exec.LookPath("zstd"); err == nil {
			run(t, "", "zstd", "-q", "-t", out)
		}
		if _, err := exec.LookPath("tar"); err == nil {
			var names []string
			for _, e := range r.Entries() {
				names = append(names, e.Name)
			}
			if diff := cmp.Diff(names, strings.Fields(run(t, "", "tar", "--zstd", "-tf", out))); diff != "" {
				t.Errorf("tar --zstd -tf (-want +got):\n%s", diff)
			}
		}
	})
	t.Run("plain-text NAME.sha256", func(t *testing.T) {
		legacy := t.TempDir()
		var text []byte
		for _, p := range parts {
			b, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(legacy, filepath.Base(p)), b, 0o644)
			text = fmt.Appendf(text, "%x  %s\n", sha256.Sum256(b), filepath.Base(p))
		}
		lbase := filepath.Join(legacy, filepath.Base(base))
		os.WriteFile(SumsName(lbase), text, 0o644)
		if _, err := VerifyParts(context.Background(), lbase, VerifyOptions{}); err != nil {
			t.Errorf("VerifyParts: %v", err)
		}
		os.Remove(lbase + ".001")
		var pe *PartError
		if _, err := Open(lbase); !errors.As(err, &pe) || !strings.HasSuffix(pe.File, ".001") {
			t.Errorf("Open without .001 = %v, want a *PartError naming .001", err)
		}
	})
}

func TestSplitPartProblems(t *testing.T) {
	fx := newFixture(t)
	const split = 64 << 10
	tests := []struct {
		name     string
		damage   func(base string) error
		wantFile string // part file the error names
		sums     bool   // VerifyParts must fail too
		intact   bool   // the bundle bytes are unchanged: Open and Verify pass
	}{
		{"middle part missing", func(b string) error { return os.Remove(b + ".001") }, ".001", true, false},
		{"last part missing, listed in sha256", func(b string) error {
			parts, _ := filepath.Glob(b + ".[0-9][0-9][0-9]")
			return os.Remove(parts[len(parts)-1])
		}, "", true, false},
		{"middle part short", func(b string) error { return os.Truncate(b+".001", split-10) }, ".001", true, false},
		{"corrupt part", func(b string) error {
			f, err := os.OpenFile(b+".002", os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{0xff, 0xfe}, 100)
			return err
		}, "", true, false},
		{"checksum listing missing", func(b string) error { return os.Remove(SumsName(b)) }, "", true, true},
		{"checksum listing lists a file outside the set", func(b string) error {
			return os.WriteFile(SumsName(b), []byte(strings.Repeat("0", 64)+"  ../../etc/hostname\n"), 0o644)
		}, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "mesh.tar.zst")
			fx.writeFile(t, base, CreateOptions{SplitSize: split})
			if err := tt.damage(base); err != nil {
				t.Fatal(err)
			}
			r, err := Open(base)
			if tt.wantFile != "" {
				var pe *PartError
				if !errors.As(err, &pe) || !errors.Is(err, ErrMissingPart) || !strings.HasSuffix(pe.File, tt.wantFile) {
					t.Errorf("Open = %v, want a *PartError naming %s wrapping ErrMissingPart", err, tt.wantFile)
				}
			} else if err == nil {
				_, verr := Verify(context.Background(), r, VerifyOptions{})
				r.Close()
				if verr == nil && !tt.intact && !strings.Contains(tt.name, "corrupt") {
					t.Errorf("Open and Verify succeeded on a damaged split bundle")
				}
			}
			t.Log(err)
			if _, err := VerifyParts(context.Background(), base, VerifyOptions{}); tt.sums && err == nil {
				t.Errorf("VerifyParts = nil, want an error")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestCreateIsAtomic(t *testing.T) {
	fx := newFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mesh.tar.zst")
	if err := os.WriteFile(path, []byte("old bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fx.write(t, f.Writer())
	if got, _ := os.ReadFile(path); string(got) != "old bundle" {
		t.Errorf("final file changed before Commit")
	}
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := f.Parts(); got != nil {
		t.Errorf("Parts() after Abort = %q, want nil", got)
	}
	if got, _ := os.ReadFile(path); string(got) != "old bundle" {
		t.Errorf("final file changed by Abort")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(left) > 0 {
		t.Errorf("Abort left %v", left)
	}
	// A split commit replaces the single file and stale parts.
	for _, stale := range []string{".000", ".007"} {
		os.WriteFile(path+stale, []byte("stale"), 0o644)
	}
	fx.writeFile(t, path, CreateOptions{SplitSize: 256 << 10})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("single file %s still exists after a split commit", path)
	}
	if _, err := os.Stat(path + ".007"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale part .007 still exists after a split commit")
	}
}

func TestSplitBase(t *testing.T) {
	dir := t.TempDir()
	single := filepath.Join(dir, "one.tar.zst")
	splitBase := filepath.Join(dir, "two.tar.zst")
	for _, f := range []string{single, splitBase + ".000", splitBase + ".001"} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path, wantBase string
		wantSplit      bool
	}{
		{single, "", false},
		{splitBase, splitBase, true},
		{splitBase + ".000", splitBase, true},
		{splitBase + ".001", splitBase, true},
		{filepath.Join(dir, "missing.tar.zst"), "", false},
		{splitBase + ".+01", "", false},
		{splitBase + ".-01", "", false},
		{splitBase + ".0001", "", false},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			base, split := SplitBase(tt.path)
			if base != tt.wantBase || split != tt.wantSplit {
				t.Errorf("SplitBase(%s) = %q, %v; want %q, %v", tt.path, base, split, tt.wantBase, tt.wantSplit)
			}
		})
	}
}

//go:build unix

package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/progress"
)

// rawSet writes a split set of n parts of size random bytes each, with its
// checksum frame, in a new directory and returns its base name. VerifyParts
// and the part checks of Open do not need the parts to hold a bundle.
func rawSet(t *testing.T, n, size int) string {
	t.Helper()
	base := filepath.Join(t.TempDir(), "m.tar.zst")
	var names, sums []string
	for i := range n {
		data := randomBytes(uint64(i+1), size)
		name := partName(base, i)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		names, sums = append(names, name), append(sums, hex.EncodeToString(sum[:]))
	}
	if err := os.WriteFile(SumsName(base), sumsFile(names, sums), 0o644); err != nil {
		t.Fatal(err)
	}
	return base
}

// plainListing returns a plain-text listing of the parts of base as they
// are on disk, followed by extra lines.
func plainListing(t *testing.T, base string, extra ...string) []byte {
	t.Helper()
	var b []byte
	for i := 0; ; i++ {
		data, err := os.ReadFile(partName(base, i))
		if err != nil {
			break
		}
		b = fmt.Appendf(b, "%x  %s\n", sha256.Sum256(data), filepath.Base(partName(base, i)))
	}
	for _, l := range extra {
		b = append(b, l+"\n"...)
	}
	return b
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// withTimeout runs fn and fails the test if it has not returned after 10 s,
// as reading a FIFO or /dev/zero would.
func withTimeout[T any](t *testing.T, fn func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("still blocked after 10s")
		panic("unreachable")
	}
}

// verifyParts runs VerifyParts with a timeout and returns the report, the
// error and the names of the files it hashed.
func verifyParts(t *testing.T, ctx context.Context, base string) (*Report, error, []string) {
	t.Helper()
	var hashed []string
	rep, err := withTimeout(t, func() (*Report, error) {
		return VerifyParts(ctx, base, VerifyOptions{Progress: func(e progress.Event) {
			if e.Kind == progress.PartVerified {
				hashed = append(hashed, e.Name)
			}
		}})
	})
	return rep, err, hashed
}

// TestVerifyPartsListedNames checks that VerifyParts hashes nothing when
// NAME.sha256 names a file that is not one of the set's parts.
func TestVerifyPartsListedNames(t *testing.T) {
	tests := []struct {
		name string
		line string // appended to a correct plain-text listing
	}{
		{"parent traversal", sumA + "  ../../etc/hostname"},
		{"absolute path", sumA + "  /etc/hostname"},
		{"device by name", sumA + "  ../../../../../../dev/zero"},
		{"subdirectory", sumA + "  sub/x.000"},
		{"part name then traversal", sumA + "  m.tar.zst.000/../x"},
		{"another file in the directory", sumA + "  notes.txt"},
		{"binary-mode absolute path", sumA + " */etc/hostname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := rawSet(t, 2, 1000)
			if err := os.WriteFile(SumsName(base), plainListing(t, base, tt.line), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err, hashed := verifyParts(t, context.Background(), base)
			if err == nil || rep == nil || rep.OK() || !strings.Contains(err.Error(), "not a part of this split set") {
				t.Fatalf("VerifyParts = %v (report OK: %v), want a failed report saying the name is not a part", err, rep != nil && rep.OK())
			}
			if p := rep.First(); p.Entry != SumsName(base) {
				t.Errorf("problem names %q, want %s", p.Entry, SumsName(base))
			}
			if len(hashed) > 0 {
				t.Errorf("VerifyParts hashed %q, want nothing hashed from a bad listing", hashed)
			}
		})
	}
}

// TestVerifyPartsFileKinds checks that parts are only read when they are
// regular files, without following links and without blocking, by both
// VerifyParts and Open.
func TestVerifyPartsFileKinds(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, part string)
		want   string
	}{
		{"named pipe", func(t *testing.T, part string) {
			os.Remove(part)
			mkfifo(t, part)
		}, "named pipe"},
		{"symbolic link to an identical copy", func(t *testing.T, part string) {
			data, _ := os.ReadFile(part)
			copyPath := filepath.Join(t.TempDir(), "copy")
			os.WriteFile(copyPath, data, 0o644)
			os.Remove(part)
			symlink(t, copyPath, part)
		}, "symbolic link"},
		{"symbolic link to /dev/zero", func(t *testing.T, part string) {
			os.Remove(part)
			symlink(t, "/dev/zero", part)
		}, "symbolic link"},
		{"directory", func(t *testing.T, part string) {
			os.Remove(part)
			os.Mkdir(part, 0o755)
		}, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := rawSet(t, 3, 1000)
			part := partName(base, 1)
			tt.damage(t, part)
			rep, err, hashed := verifyParts(t, context.Background(), base)
			if err == nil || rep.OK() || !errors.Is(err, errNotRegular) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyParts = %v, want a failed report saying the part is %s", err, tt.want)
			}
			for _, h := range hashed {
				if h == part {
					t.Errorf("VerifyParts read %s", part)
				}
			}
			for _, path := range []string{base, partName(base, 0)} {
				r, err := withTimeout(t, func() (*Reader, error) { return Open(path) })
				var pe *PartError
				if err == nil {
					r.Close()
				}
				if !errors.As(err, &pe) || pe.File != part || !errors.Is(err, errNotRegular) {
					t.Errorf("Open(%s) = %v, want a *PartError naming %s as not a regular file", filepath.Base(path), err, part)
				}
			}
		})
	}
}

// TestVerifyPartsMissingListing checks that a split set without NAME.sha256
// fails verification instead of passing with nothing checked.
func TestVerifyPartsMissingListing(t *testing.T) {
	base := rawSet(t, 2, 1000)
	os.Remove(SumsName(base))
	rep, err, hashed := verifyParts(t, context.Background(), base)
	if err == nil || rep == nil || rep.OK() || !errors.Is(err, ErrMissingPart) {
		t.Fatalf("VerifyParts = %v, want a failed report wrapping ErrMissingPart", err)
	}
	if c := rep.Check(CheckParts); c == nil || c.OK || c.Count != 1 || c.Problems[0].Entry != SumsName(base) {
		t.Errorf("parts check = %+v, want one problem naming %s", c, SumsName(base))
	}
	if len(hashed) > 0 {
		t.Errorf("VerifyParts hashed %q without a listing", hashed)
	}
}

// TestVerifyPartsCancel checks that cancelling ctx stops VerifyParts
// promptly: before it starts, between parts and in the middle of a large
// part.
func TestVerifyPartsCancel(t *testing.T) {
	const big = 4 << 30 // sparse: reads as zeros without using disk
	tests := []struct {
		name      string
		cancel    func(cancel context.CancelFunc) progress.Func
		bigPart   bool
		maxHashed int64
	}{
		{"before it starts", func(cancel context.CancelFunc) progress.Func { cancel(); return nil }, false, 0},
		{"after the first part", func(cancel context.CancelFunc) progress.Func { return func(progress.Event) { cancel() } }, false, 1000},
		{"inside a 4 GiB part", func(cancel context.CancelFunc) progress.Func {
			time.AfterFunc(50*time.Millisecond, cancel)
			return nil
		}, true, big - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := rawSet(t, 3, 1000)
			if tt.bigPart {
				if err := os.Truncate(partName(base, 0), big); err != nil {
					t.Skipf("sparse file: %v", err)
				}
				os.Remove(partName(base, 1))
				os.Remove(partName(base, 2))
				os.WriteFile(SumsName(base), []byte(sumA+"  m.tar.zst.000\n"), 0o644)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			report := tt.cancel(cancel)
			start := time.Now()
			rep, err := withTimeout(t, func() (*Report, error) {
				return VerifyParts(ctx, base, VerifyOptions{Progress: report})
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("VerifyParts = %v, want context.Canceled", err)
			}
			if rep.Bytes > tt.maxHashed {
				t.Errorf("hashed %d bytes after cancellation, want at most %d", rep.Bytes, tt.maxHashed)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("VerifyParts took %v to stop", d)
			}
		})
	}
}

// TestReadSumsFileKinds checks that NAME.sha256 is only read when it is a
// regular file: a FIFO must not block, a link must not be followed, and a
// missing listing is an ErrMissingPart.
func TestReadSumsFileKinds(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantErr error
		want    string
	}{
		{"missing", func(*testing.T, string) {}, ErrMissingPart, "no checksum listing"},
		{"named pipe", func(t *testing.T, path string) { mkfifo(t, path) }, errNotRegular, "named pipe"},
		{"symbolic link to a listing", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "m.sha256")
			os.WriteFile(target, []byte(sumA+"  m.000\n"), 0o644)
			symlink(t, target, path)
		}, errNotRegular, "symbolic link"},
		{"link to a device", func(t *testing.T, path string) { symlink(t, "/dev/zero", path) }, errNotRegular, "symbolic link"},
		{"directory", func(t *testing.T, path string) { os.Mkdir(path, 0o755) }, errNotRegular, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "m")
			tt.make(t, SumsName(base))
			_, err := withTimeout(t, func() ([]sumLine, error) { return readSetSums(base) })
			var pe *PartError
			if !errors.Is(err, tt.wantErr) || !errors.As(err, &pe) || pe.File != SumsName(base) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readSetSums = %v, want a *PartError naming %s, wrapping %v, containing %q", err, SumsName(base), tt.wantErr, tt.want)
			}
		})
	}
}

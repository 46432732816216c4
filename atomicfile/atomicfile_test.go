package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// names returns the names in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestCreateCommit checks that Commit makes the file appear whole, with
// its mode, replacing an old one, and leaves no temporary file.
func TestCreateCommit(t *testing.T) {
	tests := []struct {
		name string
		perm fs.FileMode
		temp string // Options.Temp, relative to the directory
		old  bool   // a file exists under the final name
	}{
		{name: "private", perm: 0o600},
		{name: "public", perm: 0o644},
		{name: "read-only", perm: 0o444},
		{name: "replaces", perm: 0o640, old: true},
		{name: "named temp", perm: 0o644, temp: "out.partial"},
		{name: "named temp replaces", perm: 0o600, temp: "out.partial", old: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if tt.old {
				if err := os.WriteFile(path, []byte("old"), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			var opts Options
			if tt.temp != "" {
				opts.Temp = filepath.Join(dir, tt.temp)
			}
			f, err := CreateWith(path, tt.perm, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Abort()
			for _, s := range []string{"hello, ", "world"} {
				if _, err := f.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "hello, world" {
				t.Errorf("got %q, %v; want %q", got, err, "hello, world")
			}
			if fi, err := os.Lstat(path); err != nil {
				t.Error(err)
			} else if fi.Mode() != tt.perm {
				t.Errorf("got mode %v, want %v", fi.Mode(), tt.perm)
			}
			if diff := cmp.Diff([]string{"out"}, names(t, dir)); diff != "" {
				t.Errorf("files after Commit (-want +got):\n%s", diff)
			}
			if err := f.Commit(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second Commit = %v, want fs.ErrClosed", err)
			}
			if err := f.Abort(); err != nil {
				t.Errorf("Abort after Commit = %v, want nil", err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("Abort after Commit removed the file: %v", err)
			}
		})
	}
}

// TestCreateAbort checks that Abort, at any point before Commit, leaves
// the directory as it was, and that a second Abort does nothing.
func TestCreateAbort(t *testing.T) {
	tests := []struct {
		name   string
		before func(f *File) error
	}{
		{"nothing written", func(*File) error { return nil }},
		{"written", func(f *File) error { _, err := f.Write([]byte("data")); return err }},
		{"sealed", func(f *File) error {
			if _, err := f.Write([]byte("data")); err != nil {
				return err
			}
			return f.Seal()
		}},
	}
	for _, tt := range tests {
		for _, temp := range []string{"", "out.partial"} {
			t.Run(tt.name+" "+temp, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "out")
				if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				var opts Options
				if temp != "" {
					opts.Temp = filepath.Join(dir, temp)
				}
				f, err := CreateWith(path, 0o644, opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := tt.before(f); err != nil {
					t.Fatal(err)
				}
				for i := range 2 {
					if err := f.Abort(); err != nil {
						t.Errorf("Abort #%d = %v, want nil", i+1, err)
					}
				}
				if diff := cmp.Diff([]string{"out"}, names(t, dir)); diff != "" {
					t.Errorf("files after Abort (-want +got):\n%s", diff)
				}
				if got, _ := os.ReadFile(path); string(got) != "old" {
					t.Errorf("got %q under the final name, want the old content", got)
				}
				if err := f.Commit(); !errors.Is(err, fs.ErrClosed) {
					t.Errorf("Commit after Abort = %v, want fs.ErrClosed", err)
				}
			})
		}
	}
}

// TestCreateCrashBeforeCommit checks that a writer that stops before
// Commit (a crash: neither Commit nor Abort runs) leaves the final name as
// it was: absent, or with the old content.
func TestCreateCrashBeforeCommit(t *testing.T) {
	for _, tt := range []struct {
		name string
		old  string // "" means no file
	}{
		{"no file", ""},
		{"old file", "old"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := Create(path, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("half of the new")); err != nil {
				t.Fatal(err)
			}
			if err := f.Seal(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			switch {
			case tt.old == "" && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("got %q, %v under the final name, want no file", got, err)
			case tt.old != "" && string(got) != tt.old:
				t.Errorf("got %q, %v under the final name, want %q", got, err, tt.old)
			}
		})
	}
}

// TestCreateRefusesPlantedLink checks that a symbolic link planted at the
// temporary name is never written through: openNew fails on it, and
// CreateWith removes it rather than following it.
func TestCreateRefusesPlantedLink(t *testing.T) {
	for _, tt := range []struct {
		name         string
		targetExists bool
	}{
		{"link to a file", true},
		{"dangling link", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(t.TempDir(), "victim")
			if tt.targetExists {
				if err := os.WriteFile(target, []byte("victim"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			temp := filepath.Join(dir, "out.partial")
			plant := func() {
				t.Helper()
				if err := os.Symlink(target, temp); err != nil {
					if runtime.GOOS == "windows" {
						t.Skipf("symlink: %v", err)
					}
					t.Fatal(err)
				}
			}
			checkTarget := func() {
				t.Helper()
				got, err := os.ReadFile(target)
				if tt.targetExists && string(got) != "victim" || !tt.targetExists && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("link target now holds %q (%v); want it untouched", got, err)
				}
			}

			plant()
			if f, err := openNew(temp); !errors.Is(err, fs.ErrExist) {
				if f != nil {
					f.Close()
				}
				t.Errorf("openNew on a planted link = %v, want fs.ErrExist", err)
			}
			checkTarget()

			path := filepath.Join(dir, "out")
			f, err := CreateWith(path, 0o644, Options{Temp: temp})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("data")); err != nil {
				t.Fatal(err)
			}
			if err := f.Commit(); err != nil {
				t.Fatal(err)
			}
			checkTarget()
			if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("got %v, %v under the final name, want a regular file", fi, err)
			}
		})
	}
}

// TestCreateNoReplace checks that Options.NoReplace keeps an existing file
// and otherwise publishes like Commit.
func TestCreateNoReplace(t *testing.T) {
	for _, tt := range []struct {
		name    string
		old     bool
		wantErr error
		want    string
	}{
		{name: "new file", want: "new"},
		{name: "existing file", old: true, wantErr: fs.ErrExist, want: "old"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if tt.old {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f, err := CreateWith(path, 0o600, Options{NoReplace: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("new")); err != nil {
				t.Fatal(err)
			}
			if err := f.Commit(); !errors.Is(err, tt.wantErr) {
				t.Errorf("Commit = %v, want %v", err, tt.wantErr)
			}
			if err := f.Abort(); err != nil {
				t.Errorf("Abort = %v", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff([]string{"out"}, names(t, dir)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateCommitAll checks that CommitAll publishes every file, in two
// directories, and that files already sealed are fine.
func TestCreateCommitAll(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	var files []*File
	var want [][]string
	for i, dir := range dirs {
		var n []string
		for _, name := range []string{"a", "b"} {
			f, err := CreateWith(filepath.Join(dir, name), 0o644, Options{Temp: filepath.Join(dir, name+".partial")})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Abort()
			if _, err := f.Write([]byte(name)); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if err := f.Seal(); err != nil {
					t.Fatal(err)
				}
			}
			files = append(files, f)
			n = append(n, name)
		}
		want = append(want, n)
	}
	if err := CommitAll(files...); err != nil {
		t.Fatalf("CommitAll: %v", err)
	}
	for i, dir := range dirs {
		if diff := cmp.Diff(want[i], names(t, dir)); diff != "" {
			t.Errorf("files in dir %d (-want +got):\n%s", i, diff)
		}
		for _, name := range want[i] {
			if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != name {
				t.Errorf("%s holds %q, want %q", name, got, name)
			}
		}
	}
}

// TestCreateOptions checks that a temporary name outside the final
// path's directory, or equal to the final path, is refused.
func TestCreateOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	for _, tt := range []struct {
		name, temp string
	}{
		{"other directory", filepath.Join(t.TempDir(), "out.partial")},
		{"subdirectory", filepath.Join(dir, "sub", "out.partial")},
		{"the final name", path},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if f, err := CreateWith(path, 0o644, Options{Temp: tt.temp}); err == nil {
				f.Abort()
				t.Errorf("CreateWith(Temp: %s) = nil error, want one", tt.temp)
			}
		})
	}
}

// TestAtomicWriteFile checks WriteFile: content, mode, replacement, and no
// temporary file left behind.
func TestAtomicWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mesh.lock.yaml")
	for _, tt := range []struct {
		data string
		perm fs.FileMode
	}{
		{"first", 0o644},
		{"second, longer", 0o600},
		{"", 0o644},
	} {
		t.Run(tt.data, func(t *testing.T) {
			if err := WriteFile(path, []byte(tt.data), tt.perm); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.data || fi.Mode() != tt.perm {
				t.Errorf("got %q mode %v, want %q mode %v", got, fi.Mode(), tt.data, tt.perm)
			}
			if diff := cmp.Diff([]string{"mesh.lock.yaml"}, names(t, dir)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil, 0o644); err == nil {
		t.Errorf("WriteFile into a missing directory = nil, want an error")
	}
}

// TestAtomicSyncDir checks that syncing a directory works on a normal
// directory and reports a missing one.
func TestAtomicSyncDir(t *testing.T) {
	for _, tt := range []struct {
		name    string
		dir     string
		wantErr bool
	}{
		{"directory", t.TempDir(), false},
		{"missing", filepath.Join(t.TempDir(), "missing"), runtime.GOOS != "windows"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := SyncDir(tt.dir); (err != nil) != tt.wantErr {
				t.Errorf("SyncDir(%s) = %v, want error %v", tt.dir, err, tt.wantErr)
			}
		})
	}
}

// Package atomicfile publishes files atomically: data goes to a temporary
// file in the destination's directory, which is synced to disk and renamed
// over the final name, and then the directory is synced so that the rename
// survives a crash. A reader of the final name sees the old content or the
// complete new content, never a part of it, and a crash before Commit
// leaves nothing under the final name.
//
// It is the one way meshpack writes a file it publishes (the lock, key
// pairs, bundle parts and their checksum listing, the load journal). It is
// a leaf that imports only the standard library, so every package may use
// it. The pattern is that of oras-go's content/oci ingest and hauler's
// index save: temporary file, fsync of file and directory, rename.
//
// A temporary file is created with O_CREATE|O_EXCL, which never follows a
// symbolic link and fails on anything (a link, even a dangling one, a FIFO,
// a device) that exists under its name, so a name planted by someone else
// cannot redirect the write.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// Options tune CreateWith. The zero value is what Create does.
type Options struct {
	// Temp names the temporary file. It must be another name in the
	// directory of the final path. Whatever an earlier, interrupted run
	// left under that name is removed first (a link is removed, not
	// followed). Default: a new random name ".BASE.*.tmp" in that
	// directory.
	Temp string
	// NoReplace makes Commit fail with an error wrapping fs.ErrExist when
	// the final path exists, instead of replacing it: the temporary file
	// is hard-linked to the final name, not renamed, so the check and the
	// move are one step. The file system must support hard links.
	NoReplace bool
}

// File is a file being written. Nothing appears under its final name
// until Commit. Call Abort to remove it if Commit is not reached; `defer
// f.Abort()` right after Create is safe.
type File struct {
	tmp       *os.File
	path      string
	noReplace bool
	sealed    bool
	sealErr   error
	done      bool // committed or aborted
}

// Create starts writing the file path with mode perm, set exactly (the
// umask does not apply), under a random temporary name in its directory.
func Create(path string, perm fs.FileMode) (*File, error) {
	return CreateWith(path, perm, Options{})
}

// CreateWith is Create with options.
func CreateWith(path string, perm fs.FileMode, opts Options) (*File, error) {
	dir := filepath.Dir(path)
	var (
		f   *os.File
		err error
	)
	switch {
	case opts.Temp == "":
		f, err = os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	case filepath.Dir(opts.Temp) != dir || filepath.Clean(opts.Temp) == filepath.Clean(path):
		return nil, fmt.Errorf("atomicfile: temporary file %s is not another name in the directory of %s", opts.Temp, path)
	default:
		f, err = createNew(opts.Temp)
	}
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{tmp: f, path: path, noReplace: opts.NoReplace}, nil
}

// createNew creates name for writing, first removing whatever an earlier
// run left there. If something appears there again in between, O_EXCL
// makes the creation fail rather than write through it.
func createNew(name string) (*os.File, error) {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return openNew(name)
}

// openNew creates name, which must not exist, for writing.
func openNew(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

// Write writes to the temporary file. It fails after Seal, Commit or Abort.
func (f *File) Write(p []byte) (int, error) { return f.tmp.Write(p) }

// OSFile returns the temporary file, for calls that need its descriptor
// (such as a writeback hint). Do not close, rename or remove it: Seal,
// Commit and Abort do.
func (f *File) OSFile() *os.File { return f.tmp }

// Seal syncs what was written to disk and closes the temporary file,
// without publishing it; later writes fail. It lets a caller finish many
// files and publish them together (CommitAll) without keeping them all
// open. Commit seals a file that is not sealed yet. A second Seal returns
// the result of the first.
func (f *File) Seal() error {
	if f.sealed {
		return f.sealErr
	}
	f.sealed = true
	f.sealErr = f.tmp.Sync()
	if err := f.tmp.Close(); f.sealErr == nil {
		f.sealErr = err
	}
	return f.sealErr
}

// Commit seals the file, moves it to its final name (replacing what was
// there, unless Options.NoReplace) and syncs the directory. If only the
// directory sync fails, the file is in place but the move may not survive
// a crash. After Commit, Abort does nothing; a second Commit fails with
// an error wrapping fs.ErrClosed.
func (f *File) Commit() error {
	if err := f.publish(); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(f.path))
}

// CommitAll commits files together: it seals them all, moves each to its
// final name in order, then syncs each directory once, which is cheaper
// than a Commit per file in one directory. It stops at the first error;
// files not yet moved can still be aborted.
func CommitAll(files ...*File) error {
	for _, f := range files {
		if err := f.Seal(); err != nil {
			return err
		}
	}
	var dirs []string
	for _, f := range files {
		if err := f.publish(); err != nil {
			return err
		}
		if d := filepath.Dir(f.path); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if err := SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// publish seals f and moves it to its final name.
func (f *File) publish() error {
	if f.done {
		return fmt.Errorf("commit %s: %w", f.path, fs.ErrClosed)
	}
	if err := f.Seal(); err != nil {
		return err
	}
	if f.noReplace {
		if err := os.Link(f.tmp.Name(), f.path); err != nil {
			return err
		}
		// The file is published; a temporary name left behind is only
		// a second name of it.
		_ = os.Remove(f.tmp.Name())
	} else if err := os.Rename(f.tmp.Name(), f.path); err != nil {
		return err
	}
	f.done = true
	return nil
}

// Abort closes and removes the temporary file. It does nothing after
// Commit or an earlier Abort. Its error is that of the removal.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	if !f.sealed {
		f.sealed, f.sealErr = true, fs.ErrClosed
		f.tmp.Close()
	}
	if err := os.Remove(f.tmp.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteFile writes data to path with mode perm, set exactly, like
// os.WriteFile but atomically: Create, Write, Commit.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// SyncDir syncs the directory dir, which makes the creations, renames and
// removals in it durable. On Windows, where a directory cannot be synced,
// it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

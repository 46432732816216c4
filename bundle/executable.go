package bundle

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/progress"
)

// ExecutablePrefix is where programs travel in a bundle, as
// meshpack/bin/<os>-<arch>/<name>: regular files with tar mode 0755 (every
// other file has 0644), so that `tar --zstd -xf BUNDLE meshpack/bin/…`
// yields a program ready to run. They are metadata entries like other
// meshpack/* files: listed with their sha256 in the BOM's files, so the BOM
// signature covers them.
const ExecutablePrefix = "meshpack/bin/"

// maxExecutableSize caps an executable entry (meshpack itself is ~150 MiB).
const maxExecutableSize = 1 << 30

// IsExecutableName reports whether name is an executable entry: a file
// below ExecutablePrefix.
func IsExecutableName(name string) bool {
	return strings.HasPrefix(name, ExecutablePrefix) && len(name) > len(ExecutablePrefix) && !strings.HasSuffix(name, "/")
}

// ExecutableName is the entry name of program name built for goos/goarch:
// "meshpack/bin/linux-amd64/meshpack".
func ExecutableName(goos, goarch, name string) string {
	return ExecutablePrefix + goos + "-" + goarch + "/" + name
}

// metadataLimit is the largest metadata entry called name may be.
func metadataLimit(name string) int64 {
	if IsExecutableName(name) {
		return maxExecutableSize
	}
	return maxFileSize
}

// AddExecutable streams a program of size bytes from r into the entry name
// (see ExecutablePrefix) with mode 0755, checking it against want as it
// writes: a program that differs fails the writer (its bytes were partly
// written). It is a metadata entry: it comes after meshpack/lock.yaml, in
// any order with other meshpack/* files, and before the first blob; the
// caller lists it (name, want, size) in the BOM's files.
func (w *Writer) AddExecutable(ctx context.Context, name string, size int64, want digest.Digest, r io.Reader) error {
	if !IsExecutableName(name) {
		return fmt.Errorf("add %s: an executable entry is named %s<os>-<arch>/<name>", name, ExecutablePrefix)
	}
	if err := want.Validate(); err != nil || want.Algorithm() != digest.SHA256 {
		return fmt.Errorf("add %s: want a valid sha256 digest, got %q", name, want)
	}
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	w.stateMu.Lock()
	err := w.checkAddFile(name, size)
	w.stateMu.Unlock()
	if err != nil {
		return err
	}
	if w.rank < 0 {
		if err := w.addFile(OCILayoutName, []byte(OCILayoutJSON)); err != nil {
			return err
		}
	}
	if err := w.addDirs(name); err != nil {
		return err
	}
	w.stateMu.Lock()
	w.rank = metadataRank(name)
	w.stateMu.Unlock()
	h := sha256.New()
	desc := ocispec.Descriptor{Digest: want, Size: size}
	hooks := entryHooks{hash: h, verify: func(n int64) error { return checkDigest(desc, h, n, name) }}
	if err := w.writeEntry(ctx, name, size, r, hooks); err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	w.opts.Progress.Emit(progress.Event{Kind: progress.FileWritten, Name: name, Done: size, Total: size})
	return nil
}

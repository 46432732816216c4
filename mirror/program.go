package mirror

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/bundle"
)

// Program is a program a bundle carries as an executable entry (mode
// 0755), such as meshpack itself with `bundle create --include-self`.
type Program struct {
	// Path is the file to carry, e.g. os.Executable().
	Path string
	// Entry is its name in the bundle, below bundle.ExecutablePrefix:
	// bundle.ExecutableName(runtime.GOOS, runtime.GOARCH, "meshpack").
	Entry string
}

// hashedProgram is a Program with the sha256 and size the BOM records.
type hashedProgram struct {
	Program
	file bundle.MetadataFile
}

// hashPrograms reads every program once for the BOM's files, before the
// BOM is written; writePrograms checks the same bytes again as it copies.
func hashPrograms(progs []Program) ([]hashedProgram, error) {
	out := make([]hashedProgram, 0, len(progs))
	for _, p := range progs {
		if !bundle.IsExecutableName(p.Entry) {
			return nil, fmt.Errorf("program %s: entry %q is not below %s", p.Path, p.Entry, bundle.ExecutablePrefix)
		}
		f, err := os.Open(p.Path)
		if err != nil {
			return nil, fmt.Errorf("program to carry: %w", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("program to carry: read %s: %w", p.Path, err)
		}
		d := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
		out = append(out, hashedProgram{Program: p, file: bundle.MetadataFile{Name: p.Entry, Digest: d.String(), Size: n}})
	}
	return out, nil
}

// programFiles are the BOM's records of progs.
func programFiles(progs []hashedProgram) []bundle.MetadataFile {
	out := make([]bundle.MetadataFile, 0, len(progs))
	for _, p := range progs {
		out = append(out, p.file)
	}
	return out
}

// writePrograms copies every program into w after the other metadata; a
// program that changed since it was hashed fails the create.
func writePrograms(ctx context.Context, w *bundle.Writer, progs []hashedProgram) error {
	for _, p := range progs {
		f, err := os.Open(p.Path)
		if err != nil {
			return fmt.Errorf("program to carry: %w", err)
		}
		err = w.AddExecutable(ctx, p.Entry, p.file.Size, digest.Digest(p.file.Digest), f)
		f.Close()
		if err != nil {
			return fmt.Errorf("program %s (changed while the bundle was written?): %w", p.Path, err)
		}
	}
	return nil
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
)

// selfProgram is the running meshpack binary as a program the bundle
// carries (create --include-self): meshpack/bin/<os>-<arch>/meshpack. Only
// the running binary exists here, so only its platform travels.
func selfProgram() ([]mirror.Program, error) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return nil, fmt.Errorf("--include-self: cannot find the running meshpack binary: %w", err)
	}
	if _, err := os.Stat(exe); err != nil {
		return nil, fmt.Errorf("--include-self: the running meshpack binary: %w", err)
	}
	return []mirror.Program{{Path: exe, Entry: selfEntry()}}, nil
}

// selfEntry is where --include-self puts the running binary in a bundle.
func selfEntry() string {
	return bundle.ExecutableName(runtime.GOOS, runtime.GOARCH, "meshpack")
}

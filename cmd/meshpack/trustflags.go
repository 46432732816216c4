package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/signing"
)

// trustFlags are the flags that decide how much of a bundle must be proven
// before meshpack trusts it, shared by bundle verify and bundle load.
type trustFlags struct {
	allowUnsigned bool
	allowRescan   bool
}

func (f *trustFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "accept a bundle without --key: check digests and structure only, NOT who made it")
	f.registerRescan(fs)
}

// registerRescan registers --allow-rescan alone, for commands that only read.
func (f *trustFlags) registerRescan(fs *pflag.FlagSet) {
	fs.BoolVar(&f.allowRescan, "allow-rescan", false, "read a bundle whose seek table or TOC is damaged or missing (e.g. re-compressed) by a slow sequential scan")
}

// verifier loads the --key public key, or refuses when there is none and
// --allow-unsigned was not given: meshpack fails closed.
func (f *trustFlags) verifier(key string) (signing.Verifier, error) {
	if key == "" {
		if !f.allowUnsigned {
			return nil, usagef("no --key: pass the bundle signer's public key (--key cosign.pub), or --allow-unsigned to check digests and structure only")
		}
		return nil, nil
	}
	if f.allowUnsigned {
		return nil, usagef("--key and --allow-unsigned exclude each other")
	}
	pem, err := os.ReadFile(key)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	v, err := signing.LoadVerifier(pem)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", key, err)
	}
	return v, nil
}

// fileOptions says how the library opens the bundle: the sequential scan
// only with --allow-rescan; opened, when set, receives its statistics.
func (f *trustFlags) fileOptions(opened func(bundle.Stats)) mirror.FileOptions {
	return mirror.FileOptions{AllowRescan: f.allowRescan, Opened: opened}
}

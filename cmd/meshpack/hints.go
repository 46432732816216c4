package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/pack"
)

// withHints runs every command's errors through flagHints.
func withHints(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return flagHints(run(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		withHints(sub)
	}
}

// flagHints is the one place that maps library errors to the flags that
// address them. Library errors name options and inputs, never flags; here
// they get the next step in CLI terms. Errors that mean a flag is missing
// or wrong become usage errors (exit status 2).
func flagHints(err error) error {
	if err == nil {
		return nil
	}
	var (
		key      *pack.KeyError
		out      *pack.OutputError
		exposure *registry.ExposureError
	)
	switch {
	case errors.As(err, &key) && errors.Is(err, pack.ErrMissingKey):
		return usagef("%v; fetch that key, check it, and pass --upstream-key %s=FILE (or --verify-upstream=if-signed or off to carry such images unverified)", err, key.Name)
	case errors.As(err, &key):
		return usagef("--upstream-key %v", err)
	case errors.As(err, &out):
		return usageError{err}
	case errors.As(err, &exposure):
		return exposureUsage(exposure)
	case errors.Is(err, bundle.ErrNotSeekable):
		return fmt.Errorf("%w (to read it anyway: --allow-rescan)", err)
	case errors.Is(err, mirror.ErrNoKey):
		return usagef("%v: pass the bundle signer's public key (--key cosign.pub), or --allow-unsigned to check digests and structure only", err)
	case errors.Is(err, mirror.ErrNoSigner):
		return usagef("%v: pass --key cosign.key (meshpack keys generate makes one), or --allow-unsigned to write an unsigned bundle", err)
	}
	return err
}

// exposureUsage turns a refused listen address into a usage error naming
// the flags that are missing.
func exposureUsage(e *registry.ExposureError) error {
	var missing []string
	if e.NoTLS {
		missing = append(missing, "TLS (--tls-cert and --tls-key)")
	}
	if e.NoAuth {
		missing = append(missing, "authentication (--htpasswd)")
	}
	return usagef("--addr %s is reachable from other hosts but has no %s; set them, or pass --insecure-listen to serve it anyway (read-only unless --allow-push)",
		e.Addr, strings.Join(missing, " and no "))
}

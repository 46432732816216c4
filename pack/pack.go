// Package pack builds a mesh bundle in one call: it resolves a MeshBundle
// spec to a lock (or takes a lock as given), checks that every upstream
// signing key the bundle's images need was given, and pulls everything into
// a new bundle file with mirror.Create — all through one network client.
//
// It is the one package that joins manifests/resolve (which links Helm) and
// mirror, so that mirror never links Helm.
package pack

import (
	"context"
	"fmt"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
)

// Options configures Create. The zero value resolves an empty spec (which
// fails validation): set Spec or Lock, and a signer or AllowUnsigned in
// Create.
type Options struct {
	// Spec is what to carry; it is resolved when Lock is nil.
	Spec manifests.Spec
	// Lock, when set, is rebuilt exactly as it pins; Spec is then ignored.
	Lock *manifests.Lock
	// Catalog is the version catalog; nil means manifests.DefaultCatalog.
	// Catalog keys that carry a public key are used to verify upstream
	// signatures besides Create.UpstreamKeys.
	Catalog *manifests.Catalog
	// AllowUnsupported resolves a version set the catalog marks
	// incompatible, recording it in the lock.
	AllowUnsupported bool
	// Discover resolves a bare Istio minor to the newest patch upstream
	// publishes (resolve.Options.Discover); false takes the catalog's.
	Discover bool
	// ResolveProgress, when set, receives a progress.Pinned event for each
	// artifact resolve pins (resolve.Options.Progress); it must not block
	// and may be called from several goroutines at once. Create.Progress
	// receives the pull's events.
	ResolveProgress progress.Func
	// Create configures the pull and the bundle file. Its Client is the one
	// client used for resolving too (nil: one built with the spec's
	// mirrors). Its UpstreamKeys must name keys of the catalog.
	Create mirror.CreateOptions
}

// Result is what Create did.
type Result struct {
	mirror.CreateResult
	// Lock is what the bundle was built from: the resolved lock, or
	// Options.Lock.
	Lock *manifests.Lock
}

// Create builds the bundle at path. Before any network work it checks the
// output path (CheckOutput), the verification policy and the upstream keys:
// with the default policy (mirror.VerifyRequired) an image that upstream
// signs with a key nobody gave fails with a *KeyError naming the image, the
// key and where upstream publishes it. It then resolves Spec (unless Lock is
// set), checks the keys again against the lock, and calls mirror.Create.
// The bundle appears under its final name only when complete.
func Create(ctx context.Context, path string, opts Options) (*Result, error) {
	if err := CheckOutput(path, opts.Create.Bundle.SplitSize > 0); err != nil {
		return nil, err
	}
	cat := opts.Catalog
	if cat == nil {
		var err error
		if cat, err = manifests.DefaultCatalog(); err != nil {
			return nil, err
		}
	}
	policy, err := checkPolicy(opts.Create.VerifyUpstream)
	if err != nil {
		return nil, err
	}
	keys, err := upstreamKeys(cat, opts.Create.UpstreamKeys)
	if err != nil {
		return nil, err
	}
	co := opts.Create
	co.VerifyUpstream, co.UpstreamKeys = policy, keys
	lock := opts.Lock
	if lock == nil {
		spec := opts.Spec
		spec.Normalize()
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		if policy == mirror.VerifyRequired {
			if err := checkSpecKeys(cat, spec, keys); err != nil {
				return nil, err
			}
		}
		if co.Client == nil {
			if co.Client, err = remote.New(remote.Options{Mirrors: spec.Mirrors, Logger: co.Logger}); err != nil {
				return nil, err
			}
		}
		lock, err = resolve.Resolve(ctx, spec, resolve.Options{
			Catalog: cat, Client: co.Client, AllowUnsupported: opts.AllowUnsupported, Discover: opts.Discover,
			Logger: co.Logger, Progress: opts.ResolveProgress,
		})
		if err != nil {
			return nil, err
		}
	}
	if policy == mirror.VerifyRequired {
		if err := checkLockKeys(cat, lock, keys); err != nil {
			return nil, err
		}
	}
	res, err := mirror.Create(ctx, lock, path, co)
	if err != nil {
		return nil, err
	}
	return &Result{CreateResult: *res, Lock: lock}, nil
}

// checkPolicy returns the upstream verification policy, the default for "".
func checkPolicy(p string) (string, error) {
	switch p {
	case "":
		return mirror.VerifyRequired, nil
	case mirror.VerifyRequired, mirror.VerifyIfSigned, mirror.VerifyOff:
		return p, nil
	}
	return "", fmt.Errorf("upstream verification policy %q: want %s, %s or %s", p, mirror.VerifyRequired, mirror.VerifyIfSigned, mirror.VerifyOff)
}

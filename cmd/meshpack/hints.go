package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/cluster"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/pack"
	"github.com/lattice-mesh/meshpack/remote"
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
// or wrong become usage errors (exit status 2); hintf keeps whatever the
// error was.
func flagHints(err error) error {
	if err == nil {
		return nil
	}
	var (
		key      *pack.KeyError
		out      *pack.OutputError
		exposure *registry.ExposureError
		limit    *mirror.LimitError
		upstream *mirror.UpstreamError
		compat   *resolve.IncompatibleError
		discover *resolve.DiscoveryError
		unknown  *manifests.UnknownMinorError
		pre      *cluster.PreflightError
		timeout  *cluster.TimeoutError
	)
	switch {
	case errors.Is(err, cluster.ErrNoKubeconfig):
		return usagef("%v: pass --kubeconfig FILE (and --context NAME), or set KUBECONFIG", err)
	case errors.Is(err, cluster.ErrUnreachable):
		return fmt.Errorf("%w\n(check --kubeconfig and --context: kubectl version --kubeconfig FILE --context NAME reaches the same server)", err)
	case errors.Is(err, cluster.ErrPhaseAtRisk):
		return fmt.Errorf("%w\n(enrol their namespaces first: meshpack namespace add NS; or apply anyway: --force)", err)
	case errors.As(err, &pre):
		return preflightHints(err, pre.Report)
	case errors.As(err, &timeout):
		return fmt.Errorf("%w\n(to give each step longer: --timeout; to apply without waiting: --wait=false)", err)
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

	// The registry address (--registry) and the client (netFlags).
	case errors.Is(err, mirror.ErrCredentialsInTarget):
		return hintf(err, "use -u USER --password-stdin or --docker-config")
	case errors.Is(err, mirror.ErrSchemeInTarget):
		return hintf(err, "for http use --plain-http")
	case errors.Is(err, remote.ErrNoCredentials):
		return hintf(err, "pass -u USER --password-stdin, or --docker-config with a config.json that has credentials for this registry")
	case errors.Is(err, remote.ErrCredentialsRejected):
		return hintf(err, "check the user and password given with -u USER --password-stdin, or the --docker-config credentials for this registry")
	case errors.Is(err, mirror.ErrUnauthorized):
		return hintf(err, "credentials come from -u USER --password-stdin or --docker-config")
	case errors.Is(err, mirror.ErrPlainHTTP):
		return hintf(err, "pass --plain-http")
	case errors.Is(err, remote.ErrStalled):
		return hintf(err, "check the registry and the network, or raise --stall-timeout for a very slow link")

	// bundle load's tag policy.
	case errors.Is(err, mirror.ErrTagConflict):
		return fmt.Errorf("%w\nto load anyway, pass --on-existing-tag skip to keep the registry's tags or --on-existing-tag overwrite to move them (--dry-run shows what either would do)", err)

	// bundle load's size caps.
	case errors.As(err, &limit) && limitFlags[limit.Option] != "":
		return hintf(err, "raise it with %s if that is expected", limitFlags[limit.Option])

	// bundle create's upstream signature policy.
	case errors.As(err, &upstream) && errors.Is(err, mirror.ErrNoUpstreamKey):
		return hintf(err, "pass --upstream-key %s=FILE (or --verify-upstream=off to record it unverified)", upstream.Key)
	case errors.As(err, &upstream):
		return hintf(err, "use --verify-upstream=if-signed or off to accept it")

	// bundle extract's selection.
	case errors.Is(err, mirror.ErrNoFile):
		return usagef("--file: %v", err)
	case errors.Is(err, mirror.ErrFilePlatform):
		return usagef("--platform: %v", err)

	// Resolving (resolve, bundle create) and locks.
	case errors.As(err, &compat):
		return hintf(err, "pick versions from `meshpack versions`, or pass --allow-unsupported to override")
	case errors.As(err, &discover) && discover.CatalogLatest != "":
		return hintf(err, "pass --catalog-only for the catalog's %s (or --istio %s), or point --mirror at a reachable copy of the chart repository and registry", discover.CatalogLatest, discover.CatalogLatest)
	case errors.As(err, &discover):
		return hintf(err, "name an exact version (--istio %s.N), or point --mirror at a reachable copy of the chart repository and registry", discover.Minor)
	case errors.As(err, &unknown) && unknown.EndOfLife:
		return hintf(err, "move to a supported minor (meshpack versions); meshpack resolve --allow-unsupported resolves it anyway with the rules of istio %s, recorded as unsupported", unknown.Nearest)
	case errors.As(err, &unknown):
		return hintf(err, "meshpack resolve --allow-unsupported resolves it with the rules of istio %s, recorded as unsupported (then bundle create --lock)", unknown.Nearest)
	case errors.Is(err, resolve.ErrNoPlatform):
		return hintf(err, "choose platforms with --platform")
	case errors.Is(err, resolve.ErrNoChartSource):
		return hintf(err, "use --mirror to point at a reachable copy")
	case errors.Is(err, resolve.ErrChartRender):
		return hintf(err, "give values it renders with: --chart-values NAME=FILE")
	case lockHasMirrors(err):
		return hintf(err, "pass mirrors with --mirror")
	}
	return err
}

// hintf appends a hint to err, keeping err in the chain (and with it a
// usage error's exit status).
func hintf(err error, format string, args ...any) error {
	return fmt.Errorf("%w; %s", err, fmt.Sprintf(format, args...))
}

// limitFlags maps the load options mirror.LimitError names to their flags.
var limitFlags = map[string]string{
	mirror.LimitMaxBlobSize:  "--max-blob-size",
	mirror.LimitMaxTotalSize: "--max-total-size",
}

// lockHasMirrors reports whether err is a lock that names mirrors, which
// belong on the command line.
func lockHasMirrors(err error) bool {
	var v *manifests.ValidationError
	return errors.As(err, &v) && v.Subject == "lock" &&
		slices.ContainsFunc(v.Problems, func(p *manifests.FieldError) bool { return p.Path == "spec.mirrors" })
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

// serveFlags names the flags of registry serve for the registry.Config
// fields and client options its warnings name.
var serveFlags = strings.NewReplacer(
	"Config.TLSCert", "--tls-cert",
	"Config.TLSKey", "--tls-key",
	"Config.Htpasswd", "--htpasswd",
	"Config.InsecureListen", "--insecure-listen",
	"Config.AllowPush", "--allow-push",
	"clients need plain HTTP", "clients need --plain-http",
)

// serveWarning turns a warning of the embedded registry (Server.Warnings)
// into CLI terms.
func serveWarning(w string) string { return serveFlags.Replace(w) }

// preflightHints adds the flags that address a failed preflight.
func preflightHints(err error, r *cluster.Preflight) error {
	var next []string
	if len(r.Missing) > 0 {
		next = append(next, "load the bundle first: meshpack bundle load BUNDLE --registry with the same --registry and --path-mode")
	}
	for _, rc := range r.Releases {
		if rc.Action == cluster.ActionDowngrade {
			next = append(next, "to downgrade anyway: --force")
			break
		}
	}
	if len(next) == 0 {
		return err
	}
	return fmt.Errorf("%w\n(%s)", err, strings.Join(next, "; "))
}

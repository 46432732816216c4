package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/remote"
)

// preflight runs the checks that need no bundle verification, cheapest
// first: names and sizes from the BOM (offline), then one probe of the
// registry. Nothing is pushed before they pass.
func (l *loader) preflight(ctx context.Context, bom *bundle.BOM) error {
	if err := l.checkNames(bom); err != nil {
		return err
	}
	if err := l.checkBOMSizes(bom); err != nil {
		return err
	}
	return l.probe(ctx)
}

// unauthorizedError is a probe failure about credentials: it matches
// ErrUnauthorized and the client's error without repeating their text.
type unauthorizedError struct{ err error }

func (e unauthorizedError) Error() string   { return e.err.Error() }
func (e unauthorizedError) Unwrap() []error { return []error{ErrUnauthorized, e.err} }

// probe asks the registry GET /v2/ once and turns a failure into a message
// that names the registry and says what to do.
func (l *loader) probe(ctx context.Context) error {
	start := time.Now()
	err := l.c.Ping(ctx, l.t.host)
	l.log.Debug("probed the registry", "registry", l.t.host, "duration", time.Since(start), "error", err)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	const nothing = "load refused, nothing was pushed"
	h := l.t.host
	switch {
	case errors.Is(err, remote.ErrNoCredentials):
		return unauthorizedError{fmt.Errorf("%s: registry %s requires credentials and none are configured for it (%s): %w", nothing, h, credentialsSource, err)}
	case errors.Is(err, remote.ErrCredentialsRejected):
		return unauthorizedError{fmt.Errorf("%s: registry %s rejected the credentials configured for it (%s): %w", nothing, h, credentialsSource, err)}
	case errors.Is(err, remote.ErrStalled):
		return fmt.Errorf("%s: registry %s did not answer within %s: it accepts connections but sends nothing (wrong port, a hung registry, or a proxy or firewall holding the traffic): %w",
			nothing, h, l.c.StallTimeout(), err)
	case errors.Is(err, remote.ErrNotRegistry):
		return fmt.Errorf("%s: %s does not serve the OCI distribution API (check the host and port): %w", nothing, h, err)
	}
	return fmt.Errorf("%s: registry %s is not reachable: %w", nothing, h, hint(err))
}

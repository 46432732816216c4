package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/remote"
)

// Load errors. Test for them with errors.Is.
var (
	// ErrUnauthorized means the registry refused the credentials (HTTP 401
	// or 403), or wants some and none are configured.
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrBaseMissing means an incremental bundle needs blobs from its base
	// that the target registry does not have.
	ErrBaseMissing = errors.New("base bundle content missing at the target")
	// ErrPlainHTTP means the registry answered an HTTPS request in plain
	// HTTP: the client needs remote.Options.PlainHTTP for it.
	ErrPlainHTTP = errors.New("the registry speaks plain HTTP, not HTTPS (remote.Options.PlainHTTP)")
)

// credentialsSource says where a client's registry credentials come from.
const credentialsSource = "remote.Options.Username and Password, or the docker config"

// hint says what registry errors that need the user are about: wrong or
// missing credentials, a registry that stalls or speaks plain HTTP. It
// names options, not flags; the CLI adds those.
func hint(err error) error {
	switch {
	case errors.Is(err, remote.ErrUnauthorized):
		return fmt.Errorf("%w (check the credentials configured for this registry, %s, and push rights on the repository): %w", ErrUnauthorized, credentialsSource, err)
	case errors.Is(err, remote.ErrNoCredentials):
		return unauthorizedError{fmt.Errorf("the registry requires credentials and none are configured for it (%s): %w", credentialsSource, err)}
	case errors.Is(err, remote.ErrStalled):
		return fmt.Errorf("%w (the registry stopped answering within the stall timeout, remote.Options.StallTimeout)", err)
	case err != nil && strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%w: %w", ErrPlainHTTP, err)
	}
	return err
}

// stallRetries is how often an upload that stalled is tried again before
// the load fails: one stall may be a dropped connection, two in a row mean
// the registry or the path to it is stuck.
const stallRetries = 1

// failure says how an upload attempt failed and what to do next.
type failure int

const (
	failFatal   failure = iota // give up
	failRetry                  // transient: back off, continue from what the registry has
	failRestart                // the session is gone or broken: open a new one
	failChunks                 // a monolithic PUT was refused: use chunks
	failSmaller                // a chunk was too large: halve it
	failStalled                // no progress: try once more, then give up
)

// classify sorts an upload error by the sentinels remote maps registry
// answers to. chunked says whether it came from a chunked upload.
func classify(err error, chunked bool) failure {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, bundle.ErrDigestMismatch), errors.Is(err, bundle.ErrInvalidBundle),
		errors.Is(err, bundle.ErrMissingPart), errors.Is(err, bundle.ErrClosed),
		errors.Is(err, remote.ErrNoCredentials):
		return failFatal
	case errors.Is(err, remote.ErrStalled):
		return failStalled
	case errors.Is(err, remote.ErrUploadInvalid), errors.Is(err, remote.ErrNotFound):
		return failRestart
	case errors.Is(err, remote.ErrTooLarge) && chunked:
		return failSmaller
	case errors.Is(err, remote.ErrTooLarge), errors.Is(err, remote.ErrUnsupported):
		if chunked {
			return failFatal
		}
		return failChunks
	case remote.Temporary(err):
		return failRetry // a network failure, 408, 416, 429 or 5xx
	}
	return failFatal
}

// checkAbsent makes sure that every blob an incremental bundle leaves out
// is in at least one target repository (Load mounts it into the others)
// before anything is pushed.
func (l *loader) checkAbsent(ctx context.Context, p *loadPlan, base string) error {
	var missing []string
	n := 0
	for _, b := range p.blobs {
		if b.inBundle {
			continue
		}
		found := false
		for _, path := range b.repos {
			ok, err := l.blobExists(ctx, b, path)
			if err != nil {
				return fmt.Errorf("blob %s (%s) into %s/%s: check whether the registry has it: %w", b.desc.Digest, b.label, l.t.host, path, hint(err))
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			if n++; len(missing) < 5 {
				missing = append(missing, fmt.Sprintf("%s (%s)", b.desc.Digest, b.label))
			}
		}
	}
	if n == 0 {
		return nil
	}
	what := "the bundle does not hold them"
	if base != "" {
		what = "this incremental bundle leaves them to its base (BOM " + base + "); load the base bundle into " + l.t.String() + " first"
	}
	return fmt.Errorf("%w: %d blobs are neither in the bundle nor at %s, e.g. %s; %s; nothing was pushed",
		ErrBaseMissing, n, l.t, strings.Join(missing, ", "), what)
}

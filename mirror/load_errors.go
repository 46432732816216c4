package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror/client"
)

// Load errors. Test for them with errors.Is.
var (
	// ErrUnauthorized means the registry refused the credentials (HTTP 401
	// or 403), or wants some and none are configured.
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrBaseMissing means an incremental bundle needs blobs from its base
	// that the target registry does not have.
	ErrBaseMissing = errors.New("base bundle content missing at the target")
)

// credentialsHint says how to give meshpack credentials.
const credentialsHint = "pass -u USER --password-stdin, or --docker-config with a config.json that has credentials for this registry"

// hint adds what to do to registry errors that need the user: wrong or
// missing credentials, a registry that is not there or stalls.
func hint(err error) error {
	var re *errcode.ErrorResponse
	switch {
	case errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%w (check --username/--password-stdin or the docker config credentials for this registry, and push rights on the repository): %w", ErrUnauthorized, err)
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return unauthorizedError{fmt.Errorf("the registry requires credentials and none are configured for it (%s): %w", credentialsHint, err)}
	case errors.Is(err, client.ErrStalled):
		return fmt.Errorf("%w (the registry stopped answering; check it and the network, or raise --stall-timeout for a very slow link)", err)
	case err != nil && strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%w (the registry speaks plain HTTP: pass --plain-http)", err)
	}
	return err
}

// stallRetries is how often a request that stalled is tried again before
// the load fails: one stall may be a dropped connection, two in a row mean
// the registry or the path to it is stuck.
const stallRetries = 1

// retryStalled runs fn again after a stall, at most stallRetries times.
func (l *loader) retryStalled(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = fn()
		if err == nil || !errors.Is(err, client.ErrStalled) || ctx.Err() != nil || attempt >= stallRetries {
			return err
		}
		l.log.Warn("the registry stalled; trying again", "registry", l.t.host, "error", err)
	}
}

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

// classify sorts an upload error. chunked says whether it came from a
// chunked upload.
func classify(err error, chunked bool) failure {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, bundle.ErrDigestMismatch) || errors.Is(err, bundle.ErrInvalidBundle) ||
		errors.Is(err, bundle.ErrMissingPart) || errors.Is(err, bundle.ErrClosed) ||
		errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return failFatal
	}
	if errors.Is(err, client.ErrStalled) {
		return failStalled
	}
	var re *errcode.ErrorResponse
	if !errors.As(err, &re) {
		return failRetry // network: reset, EOF, timeout
	}
	switch code := re.StatusCode; {
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return failFatal
	case code == http.StatusNotFound:
		return failRestart
	case code == http.StatusRequestedRangeNotSatisfiable:
		return failRetry
	case code == http.StatusRequestEntityTooLarge && chunked:
		return failSmaller
	case code == http.StatusRequestEntityTooLarge, code == http.StatusMethodNotAllowed,
		code == http.StatusLengthRequired, code == http.StatusNotImplemented:
		if chunked {
			return failFatal
		}
		return failChunks
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return failRetry
	case code == http.StatusBadRequest:
		for _, e := range re.Errors {
			switch e.Code {
			case errcode.ErrorCodeDigestInvalid, errcode.ErrorCodeBlobUploadInvalid,
				errcode.ErrorCodeSizeInvalid, errcode.ErrorCodeBlobUploadUnknown:
				return failRestart
			}
		}
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

// blobExists asks (HEAD) whether repository path has blob b, retrying a
// stall once, and remembers a yes: a manifest refused later for that blob
// proves the registry wrong.
func (l *loader) blobExists(ctx context.Context, b *blobTask, path string) (bool, error) {
	rc, err := l.repoFor(path)
	if err != nil {
		return false, err
	}
	var ok bool
	err = l.retryStalled(ctx, func() error {
		var err error
		ok, err = rc.repo.Blobs().Exists(ctx, b.desc)
		return err
	})
	if ok {
		l.headSaid.Store(path+"@"+b.desc.Digest.String(), true)
	}
	return ok, err
}

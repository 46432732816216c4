package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Load errors. Test for them with errors.Is.
var (
	// ErrUnauthorized means the registry refused the credentials (HTTP 401
	// or 403).
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrBaseMissing means an incremental bundle needs blobs from its base
	// that the target registry does not have.
	ErrBaseMissing = errors.New("base bundle content missing at the target")
)

// hint adds what to do to registry errors that need the user: wrong
// credentials, a registry that is not there.
func hint(err error) error {
	var re *errcode.ErrorResponse
	if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w (check --username/--password-stdin or the docker config credentials for this registry, and push rights on the repository): %w", ErrUnauthorized, err)
	}
	if err != nil && strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%w (the registry speaks plain HTTP: pass --plain-http)", err)
	}
	return err
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
			rc, err := l.repoFor(path)
			if err != nil {
				return err
			}
			ok, err := rc.repo.Blobs().Exists(ctx, b.desc)
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

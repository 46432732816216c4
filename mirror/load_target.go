package mirror

import (
	"errors"
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// Errors of the registry address (the target of Load).
var (
	// ErrCredentialsInTarget means the registry address carries a user name
	// or password (user:pw@host); its error message never repeats them.
	// Credentials belong to the client: remote.Options.Username and
	// Password, or the docker config.
	ErrCredentialsInTarget = errors.New("credentials in the registry address are not allowed (the client's are remote.Options.Username and Password, or the docker config)")
	// ErrSchemeInTarget means the registry address starts with a scheme
	// (http://, https://); plain HTTP is remote.Options.PlainHTTP.
	ErrSchemeInTarget = errors.New("give HOST[:PORT][/PREFIX] without a scheme (plain HTTP is remote.Options.PlainHTTP)")
)

// ValidateTarget checks a Load target, HOST[:PORT][/PREFIX], without any
// network access: the same check Load makes first. A target with
// credentials (user:pw@host, scheme://user@host) fails with
// ErrCredentialsInTarget and a message that does not contain them.
func ValidateTarget(target string) error {
	_, err := parseTarget(target, "")
	return err
}

// target is where Load pushes: a registry host and an optional path prefix.
type target struct {
	host    string
	prefix  string
	flatten bool
}

// parseTarget parses HOST[:PORT][/PREFIX]. Messages quote the input only
// after it is known to hold no credentials.
func parseTarget(s, mode string) (target, error) {
	var t target
	if hasUserinfo(s) {
		return t, ErrCredentialsInTarget
	}
	if strings.Contains(s, "@") {
		// Not echoed either: whatever follows '@' may be a secret.
		return t, errors.New("registry address: want HOST[:PORT][/PREFIX]; '@' does not belong in it (no credentials, no digest)")
	}
	switch mode {
	case "", PathKeep:
	case PathFlatten:
		t.flatten = true
	default:
		return t, fmt.Errorf("path mode %q: want %s or %s", mode, PathKeep, PathFlatten)
	}
	if strings.Contains(s, "://") {
		return t, fmt.Errorf("registry %q: %w", s, ErrSchemeInTarget)
	}
	host, prefix, _ := strings.Cut(strings.TrimSpace(s), "/")
	prefix = strings.Trim(prefix, "/")
	t.host, t.prefix = host, prefix
	ref := registry.Reference{Registry: host, Repository: prefix}
	if host == "" {
		return t, fmt.Errorf("registry %q: want HOST[:PORT][/PREFIX], e.g. registry.internal:5000/mesh", s)
	}
	if err := ref.ValidateRegistry(); err != nil {
		return t, fmt.Errorf("registry %q: %w", s, err)
	}
	if prefix != "" {
		if err := ref.ValidateRepository(); err != nil {
			return t, fmt.Errorf("registry %q: prefix %q is not a valid repository path (lowercase letters, digits, separators): %w", s, prefix, err)
		}
	}
	return t, nil
}

// hasUserinfo reports whether the authority part of a registry address
// (after an optional scheme, before the first '/') holds an '@', as in
// user:pw@host or https://user@host/prefix.
func hasUserinfo(s string) bool {
	s = strings.TrimSpace(s)
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	s = strings.TrimLeft(s, "/")
	authority, _, _ := strings.Cut(s, "/")
	return strings.Contains(authority, "@")
}

// String renders HOST[/PREFIX].
func (t target) String() string {
	if t.prefix == "" {
		return t.host
	}
	return t.host + "/" + t.prefix
}

// repo maps a BOM repository ("istio/pilot") to its path below the host.
func (t target) repo(p string) string {
	if t.flatten {
		p = strings.ReplaceAll(p, "/", "-")
	}
	if t.prefix == "" {
		return p
	}
	return t.prefix + "/" + p
}

// TargetPath returns where Load puts BOM repository repo ("istio/pilot",
// "charts/istiod") in registry (HOST[:PORT][/PREFIX]) under path mode mode:
// the host and the repository path below it.
func TargetPath(registry, mode, repo string) (host, path string, err error) {
	t, err := parseTarget(registry, mode)
	if err != nil {
		return "", "", err
	}
	return t.host, t.repo(repo), nil
}

package pack

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMissingKey means upstream signs images the bundle carries with a key
// the catalog names but whose public key was not given, and the policy
// requires checking it.
var ErrMissingKey = errors.New("no public key given for it")

// ErrUnknownKey means a public key was given under a name the catalog does
// not know.
var ErrUnknownKey = errors.New("not a signing key of the catalog")

// ErrOutput is matched by every refused output path (OutputError).
var ErrOutput = errors.New("cannot be written")

// KeyError is a problem with an upstream signing key, found before anything
// is downloaded. It unwraps to ErrMissingKey or ErrUnknownKey.
type KeyError struct {
	// Name is the key's name in the catalog, e.g. "istio-release".
	Name string
	// URL is where upstream publishes the key, per the catalog; empty when
	// the catalog does not know the key.
	URL string
	// Subject is what needs the key: an image reference.
	Subject string
	// Known lists the catalog's key names (for ErrUnknownKey).
	Known []string
	// Err is ErrMissingKey or ErrUnknownKey.
	Err error
}

// Error names the image, the key, where upstream publishes it and what is
// missing.
func (e *KeyError) Error() string {
	if errors.Is(e.Err, ErrUnknownKey) {
		return fmt.Sprintf("upstream key %q: %v; known keys: %s", e.Name, e.Err, strings.Join(e.Known, ", "))
	}
	s := fmt.Sprintf("image %s: upstream signs it with key %q", e.Subject, e.Name)
	if e.URL != "" {
		s += " (published at " + e.URL + ")"
	}
	return s + ", but " + e.Err.Error()
}

// Unwrap returns ErrMissingKey or ErrUnknownKey.
func (e *KeyError) Unwrap() error { return e.Err }

// OutputError is an output path refused before any work: its directory is
// missing or it names a directory. It unwraps to ErrOutput.
type OutputError struct {
	// Path is the output path as given.
	Path string
	// Reason says what is wrong and what to do.
	Reason string
}

// Error names the path and the reason.
func (e *OutputError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Path, ErrOutput, e.Reason)
}

// Unwrap returns ErrOutput.
func (e *OutputError) Unwrap() error { return ErrOutput }

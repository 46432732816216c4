package resolve

import "errors"

// Errors of resolving that name what the caller can change. Test for them
// with errors.Is.
var (
	// ErrNoPlatform means an image has none of the platforms the spec asks
	// for (Spec.Platforms).
	ErrNoPlatform = errors.New("no platform the spec asks for (Spec.Platforms)")
	// ErrNoChartSource means no repository of the catalog, HTTP or OCI,
	// served a chart; a mirror (Spec.Mirrors, or the client's) can point at
	// a reachable copy.
	ErrNoChartSource = errors.New("no repository served it (Spec.Mirrors can point at a reachable copy)")
)

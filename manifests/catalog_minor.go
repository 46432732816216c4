package manifests

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// UnknownMinorError is an Istio minor the catalog has no entry for. It
// matches ErrUnknownVersion.
type UnknownMinorError struct {
	// Version is what was asked for ("1.32" or "1.32.1").
	Version string
	// Known are the catalog's minors, oldest first.
	Known []string
	// EndOfLife is true when the minor is older than every known minor:
	// Istio supports a minor until shortly after minor N+2, so it is past
	// its end of life.
	EndOfLife bool
	// Nearest is the known minor whose rules AllowUnsupported would borrow.
	Nearest string
}

// Error says whether the minor is end of life and names the known minors.
func (e *UnknownMinorError) Error() string {
	known := strings.Join(e.Known, ", ")
	if e.EndOfLife {
		return fmt.Sprintf("istio %s: end of life: older than %s, the oldest minor the catalog knows (known minors: %s)", e.Version, e.Nearest, known)
	}
	return fmt.Sprintf("istio %s: %v; known minors: %s", e.Version, ErrUnknownVersion, known)
}

// Is makes errors.Is(err, ErrUnknownVersion) true.
func (e *UnknownMinorError) Is(target error) bool { return target == ErrUnknownVersion }

func (c *Catalog) unknownMinor(version string) *UnknownMinorError {
	e := &UnknownMinorError{Version: version, Known: c.minors()}
	if len(c.Istio) == 0 {
		return e
	}
	oldest, newest := c.Istio[0].Minor, c.Istio[len(c.Istio)-1].Minor
	e.Nearest = newest
	if outsideBounds(minorOf(version)+".0", oldest+".0", "") == "below" {
		e.EndOfLife, e.Nearest = true, oldest
	}
	return e
}

// ProvisionalMinor returns a copy of the catalog that also knows minor
// (e.g. "1.32"), with the rules of the nearest known minor borrowed
// (charts, images, signing, Kubernetes range, Kiali and Gateway API
// pairings) and no known patches, plus a note that says so. Only an
// explicit AllowUnsupported should use it: nothing in the borrowed rules
// was checked for that minor. A minor the catalog knows is returned as is.
func (c *Catalog) ProvisionalMinor(minor string) (*Catalog, string, error) {
	minor = minorOf(trimV(strings.TrimSpace(minor)))
	if c.Release(minor) != nil {
		return c, "", nil
	}
	if !minorPattern.MatchString(minor) || len(c.Istio) == 0 {
		return nil, "", fmt.Errorf("istio %q: want a minor like 1.30", minor)
	}
	nearest := c.unknownMinor(minor).Nearest
	borrowed := *c.Release(nearest)
	borrowed.Minor, borrowed.Latest, borrowed.Patches = minor, "", nil
	borrowed.Released, borrowed.EOL = "", ""
	cp := *c
	cp.Istio = append(slices.Clone(c.Istio), borrowed)
	slices.SortFunc(cp.Istio, func(a, b IstioRelease) int {
		return semver.MustParse(a.Minor + ".0").Compare(semver.MustParse(b.Minor + ".0"))
	})
	note := fmt.Sprintf("unsupported (explicitly allowed): istio %s is not in the catalog; it is resolved with the rules of istio %s (Kubernetes %s-%s, kiali %s, gateway-api >= %s), none of them checked for %s",
		minor, nearest, borrowed.Kubernetes.Min, borrowed.Kubernetes.Max, borrowed.Kiali.Range, orDash(borrowed.GatewayAPI.Min), minor)
	return &cp, note, nil
}

// EndOfLife reports whether the minor is past its end of life on day now:
// the catalog marks it eol, or its EOL date has passed.
func (r *IstioRelease) EndOfLife(now time.Time) bool {
	return r.Status == StatusEOL || r.EOL != "" && r.EOL < now.Format(time.DateOnly)
}

// EndOfLifeText is "istio 1.28 reached end of life on 2026-07-01" (or
// without the date when the catalog has none).
func (r *IstioRelease) EndOfLifeText() string {
	if r.EOL == "" {
		return "istio " + r.Minor + " reached end of life"
	}
	return fmt.Sprintf("istio %s reached end of life on %s", r.Minor, r.EOL)
}

// RulesText summarises the minor's catalog rules for notes, e.g.
// "Kubernetes 1.32-1.36, kiali >=2.22.0 <2.30.0, gateway-api >= v1.5.0".
func (r *IstioRelease) RulesText() string {
	return fmt.Sprintf("Kubernetes %s-%s, kiali %s, gateway-api >= %s", r.Kubernetes.Min, r.Kubernetes.Max, r.Kiali.Range, orDash(r.GatewayAPI.Min))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

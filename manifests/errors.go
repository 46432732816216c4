package manifests

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError: a spec, lock or
// catalog that does not parse strictly or does not validate.
var ErrInvalid = errors.New("invalid document")

// ErrUnknownVersion is returned by catalog lookups for a version the catalog
// does not know and cannot resolve (an Istio minor it has no entry for).
var ErrUnknownVersion = errors.New("version not in catalog")

// FieldError is one problem at one field of a document.
type FieldError struct {
	// Path is the field path, e.g. "istio.profile" or "images[3].digest".
	Path string
	// Line is the 1-based line in the source YAML, or 0 when unknown (for
	// problems found by Validate on values not read from a file).
	Line int
	// Msg says what is wrong and, where it helps, what is allowed.
	Msg string
}

// Error renders "path: msg (line N)".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// ValidationError collects every problem of one document so a user sees all of
// them at once. It matches ErrInvalid, and errors.As finds each *FieldError.
type ValidationError struct {
	// Subject names the document: "spec", "lock" or "catalog".
	Subject  string
	Problems []*FieldError
}

// Error renders one problem on one line, several as an indented list.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return e.Subject + ": " + e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", e.Subject, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns each problem.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// maxProblems caps the problems reported for one document.
const maxProblems = 50

// problems accumulates field errors for one document.
type problems struct {
	list    []*FieldError
	dropped int
}

func (p *problems) add(path string, line int, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when there are no problems, else a *ValidationError.
func (p *problems) err(subject string) error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.dropped > 0 {
		list = append(list, &FieldError{Msg: fmt.Sprintf("and %d more problems", p.dropped)})
	}
	return &ValidationError{Subject: subject, Problems: list}
}

// joinPath appends a field name to a path.
func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// indexPath appends a slice index to a path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

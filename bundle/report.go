package bundle

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Check names used in a Report.
const (
	CheckLayout = "layout" // oci-layout and index.json parse
	// CheckStructure: every tar header, padding and the trailer are exactly
	// what the TOC says, and the BOM lists every metadata file's sha256.
	CheckStructure = "structure"
	CheckOrder     = "order" // metadata before blobs, each entry once, directories first
	CheckBOM       = "bom"   // the BOM blob list equals the blobs in the bundle
	CheckIndex     = "index" // index.json entries and BOM artifacts match
	CheckGraph     = "graph" // manifests parse and every referenced blob is present
	CheckBlobs     = "blobs" // every blob hashes to its name and size
	CheckParts     = "parts" // split parts match NAME.sha256
)

// maxProblemsKept bounds the problems a Check keeps; Count has them all.
const maxProblemsKept = 10

// Report is the result of Verify or VerifyParts.
type Report struct {
	Checks []*Check `json:"checks"`
	// Blobs and Bytes count the blobs hashed.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// Check is one verification step.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Summary says what was checked ("37 blobs, 1204 MiB").
	Summary string `json:"summary"`
	// Count is the number of problems; Problems keeps the first ones in
	// bundle order.
	Count    int        `json:"count"`
	Problems []*Problem `json:"problems,omitempty"`
}

// Problem is one failed item of a check.
type Problem struct {
	Check string `json:"check"`
	// Digest and Entry name the blob or metadata entry, when there is one.
	Digest digest.Digest `json:"digest,omitempty"`
	Entry  string        `json:"entry,omitempty"`
	// Offset is the uncompressed offset of the entry's data, -1 if unknown.
	Offset int64 `json:"offset"`
	// Artifacts are the artifacts (repository:tag or ref name) that
	// reference the blob.
	Artifacts []string `json:"artifacts,omitempty"`
	// Err is the cause; JSON carries its message as "error".
	Err error `json:"-"`
}

// MarshalJSON renders the problem with its cause as the string "error".
func (p *Problem) MarshalJSON() ([]byte, error) {
	type fields Problem // without the method
	msg := ""
	if p.Err != nil {
		msg = p.Err.Error()
	}
	return json.Marshal(struct {
		*fields
		Error string `json:"error"`
	}{(*fields)(p), msg})
}

// Error names the check, the digest or entry, its offset and the
// artifacts that reference it, then the cause.
func (p *Problem) Error() string {
	subject := p.Entry
	if p.Digest != "" {
		subject = p.Digest.String()
	}
	var where []string
	if p.Digest != "" && p.Entry != "" {
		where = append(where, p.Entry)
	}
	if p.Offset >= 0 {
		where = append(where, fmt.Sprintf("offset %d", p.Offset))
	}
	s := p.Check + ": " + subject
	if len(where) > 0 {
		s += " (" + strings.Join(where, " at ") + ")"
	}
	if len(p.Artifacts) > 0 {
		s += " referenced by " + strings.Join(p.Artifacts, ", ")
	}
	return s + ": " + p.Err.Error()
}

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.Err }

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// First returns the first problem of the first failed check, or nil.
func (r *Report) First() *Problem {
	for _, c := range r.Checks {
		if len(c.Problems) > 0 {
			return c.Problems[0]
		}
	}
	return nil
}

// Check returns the check called name, or nil.
func (r *Report) Check(name string) *Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// err summarises a failed report as an error wrapping the first problem.
func (r *Report) err(subject string) error {
	n := 0
	for _, c := range r.Checks {
		n += c.Count
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d problem(s), first: %w", subject, n, r.First())
}

// add records a problem; nil is no problem.
func (c *Check) add(p *Problem) {
	if p == nil {
		return
	}
	p.Check = c.Name
	c.OK = false
	c.Count++
	if len(c.Problems) < maxProblemsKept {
		c.Problems = append(c.Problems, p)
	}
}

func newCheck(name string) *Check { return &Check{Name: name, OK: true} }

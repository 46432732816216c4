// Package progress is the one progress event of meshpack's libraries.
// bundle, mirror and manifests/resolve report what they do as Events to an
// optional Func in their options; only the command renders them (a bar on a
// terminal, plain lines otherwise, debug log lines). It is a leaf like
// mediatype: it imports nothing of meshpack, only image-spec for the
// descriptor, so that every package of ours may use it.
package progress

import (
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Kind says what an Event reports.
type Kind int

// Event kinds. Each says which fields of the Event it sets; the others are
// zero.
const (
	// Planned: the work of a pull or load is known. Total is its bytes
	// (each blob once) and Blobs its number of blobs.
	Planned Kind = iota + 1
	// Bytes: N more bytes of blob Descriptor went by: pulled into a bundle,
	// pushed to a registry, written by bundle.Writer.Push or hashed by
	// bundle.Verify. bundle also sets Name (the tar entry), Done (the
	// blob's bytes so far) and Total (its size).
	Bytes
	// BlobDone: blob Descriptor was copied completely: stored and checked
	// by bundle.Writer.Push (Done and Total are its size), written by a
	// pull, or present in every target repository of a load.
	BlobDone
	// BlobSkipped: a load found blob Descriptor, or the first N bytes of an
	// interrupted upload of it, already at the target; N bytes were not
	// sent.
	BlobSkipped
	// BlobVerified: bundle.Verify hashed blob Descriptor (entry Name; Done
	// and Total are its size). Err is set when it failed.
	BlobVerified
	// PartVerified: bundle.VerifyParts hashed split part file Name (Done
	// and Total are the bytes hashed). Err is set when it failed.
	PartVerified
	// FileWritten: bundle.Writer wrote metadata file Name (Done and Total
	// are its size).
	FileWritten
	// ArtifactDone: a load pushed and tagged artifact Name (the reference
	// it now has) of kind ArtifactKind, with root manifest Descriptor.
	ArtifactDone
	// Pinned: resolve pinned artifact Name (a chart name and version, an
	// image reference or a file URL) of kind ArtifactKind to
	// Descriptor.Digest; images and files also carry the size and media
	// type.
	Pinned
)

var kindNames = [...]string{
	Planned:      "planned",
	Bytes:        "bytes",
	BlobDone:     "blob-done",
	BlobSkipped:  "blob-skipped",
	BlobVerified: "blob-verified",
	PartVerified: "part-verified",
	FileWritten:  "file-written",
	ArtifactDone: "artifact-done",
	Pinned:       "pinned",
}

// String names the kind ("bytes", "blob-done"), or gives its number when
// it is not one of the constants.
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one progress report. Kind says which other fields are set.
type Event struct {
	Kind Kind
	// Name names what the event is about: a bundle entry or part file, a
	// blob's label, an artifact's reference, chart or URL.
	Name string
	// ArtifactKind is "image", "chart", "file" or, for ArtifactDone,
	// "signature" (the bundle.Kind* names).
	ArtifactKind string
	// Descriptor is the blob, manifest or pinned artifact concerned.
	Descriptor ocispec.Descriptor
	// N is a number of bytes: moved since the last event (Bytes), or not
	// sent (BlobSkipped).
	N int64
	// Done and Total count bytes of one blob or file: so far, and in all.
	// For Planned, Total is the bytes of the whole run.
	Done, Total int64
	// Blobs is the number of blobs of the run (Planned).
	Blobs int
	// Err is the failure (BlobVerified, PartVerified).
	Err error
}

// Func receives Events. Where an Options struct takes one it is optional
// (nil reports nothing) and must not block; that Options says whether it
// may be called from several goroutines at once.
type Func func(Event)

// Emit passes e to fn, when fn is set.
func (fn Func) Emit(e Event) {
	if fn != nil {
		fn(e)
	}
}

// Package mirror moves content: Pull copies everything a lock pins from
// upstream into a bundle writer, Load copies a bundle into an OCI registry.
// Both stream blobs with bounded memory, verify digests while copying and
// report progress as events.
package mirror

import (
	"log/slog"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/remote"
	"github.com/lattice-mesh/meshpack/signing"
)

// Upstream verification policies (--verify-upstream).
const (
	// VerifyRequired: an image the catalog says upstream signs must carry a
	// signature that verifies with the catalog key, or create fails.
	VerifyRequired = "required"
	// VerifyIfSigned: verify a signature when one exists; absent is recorded.
	VerifyIfSigned = "if-signed"
	// VerifyOff: do not look for upstream signatures; recorded in the BOM.
	VerifyOff = "off"
)

// PullOptions configures Pull. The zero value fetches from the real upstream
// locations, verifies upstream signatures where the lock says upstream signs,
// and refuses to write an unsigned bundle (set Signer or AllowUnsigned).
type PullOptions struct {
	// Client fetches from upstream; nil means default options.
	Client *remote.Client
	// Platforms filters image platforms; nil means the lock spec's platforms.
	Platforms []string
	// Concurrency is how many downloads run ahead of the bundle writer;
	// default 4.
	Concurrency int
	// VerifyUpstream is VerifyRequired (default), VerifyIfSigned or VerifyOff.
	VerifyUpstream string
	// UpstreamKeys maps a catalog signing key name (LockedImage.SignedBy) to
	// its verifier.
	UpstreamKeys map[string]signing.Verifier
	// Signer signs every image manifest and the BOM; nil requires AllowUnsigned.
	Signer signing.Signer
	// AllowUnsigned writes an unsigned bundle, marked as such in the BOM.
	AllowUnsigned bool
	// Tool names the writer in the BOM.
	Tool bundle.Tool
	// Created is the BOM creation time; zero means now.
	Created time.Time
	// Logger receives progress lines; nil discards.
	Logger *slog.Logger
	// Progress, when set, receives events; it must not block.
	Progress func(Event)
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventPlanned: manifests are fetched and verified; Total* are known.
	EventPlanned EventKind = iota + 1
	// EventBytes: N more bytes were copied (pulled into the bundle, or pushed).
	EventBytes
	// EventBlobDone: a blob was copied completely.
	EventBlobDone
	// EventBlobSkipped: a blob was already at the target (load).
	EventBlobSkipped
	// EventArtifactDone: an image, chart, file or signature is complete.
	EventArtifactDone
	// EventNote: something worth telling the user (Message).
	EventNote
)

// Event is a progress report.
type Event struct {
	Kind EventKind
	// Name is the artifact reference or blob label.
	Name string
	// Descriptor is the blob or manifest concerned.
	Descriptor ocispec.Descriptor
	// N is a byte delta (EventBytes).
	N int64
	// TotalBytes and TotalBlobs are the totals of the run (EventPlanned).
	TotalBytes int64
	TotalBlobs int
	// Message is human-readable detail (EventNote).
	Message string
}

func emit(fn func(Event), e Event) {
	if fn != nil {
		fn(e)
	}
}

func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

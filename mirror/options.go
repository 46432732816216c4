// Package mirror moves content: Pull copies everything a lock pins from
// upstream into a bundle writer, Load copies a bundle into an OCI registry.
// Both stream blobs with bounded memory, verify digests while copying and
// report progress as events.
package mirror

import (
	"log/slog"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/progress"
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

// DefaultPullConcurrency is how many requests Pull runs at once by
// default: enough to fill a link whose connections are capped well below
// its total bandwidth (DECISIONS.md "Slow links").
const DefaultPullConcurrency = 16

// PullOptions configures Pull. The zero value fetches from the real upstream
// locations, verifies upstream signatures where the lock says upstream signs,
// and refuses to write an unsigned bundle (set Signer or AllowUnsigned).
type PullOptions struct {
	// Client fetches from upstream; nil means default options.
	Client *remote.Client
	// Platforms filters image platforms; nil means the lock spec's platforms.
	Platforms []string
	// Concurrency is how many requests download at once, over all blobs
	// (a large blob is fetched as parallel range requests where the
	// registry serves ranges); default DefaultPullConcurrency.
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
	// Cache, when set, is a blob cache shared across creates: configs,
	// layers and files found there (verified by digest) are not downloaded,
	// and every blob downloaded is saved there.
	Cache *BlobCache
	// Base makes an incremental bundle: every config, layer and file blob
	// the base holds is left out (manifests, charts, signatures, the BOM
	// and the lock are always carried) and the BOM names the base
	// (BOM.Base). Loading it needs the base's blobs in the registry.
	Base *Base
	// Programs are carried as executable entries (mode 0755) after the
	// other metadata, each listed with its sha256 in the BOM's files:
	// meshpack itself with `bundle create --include-self`.
	Programs []Program
	// Progress, when set, receives events, never concurrently; it must not
	// block. Planned carries Total (the bytes of every blob) and Blobs once
	// the manifests are fetched and verified; Bytes, bytes pulled into the
	// bundle; BlobDone, a blob written.
	Progress progress.Func
}

func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/mediatype"
)

// Defaults of PushOptions.
const (
	// DefaultRetries is how often a PUT that failed temporarily is tried
	// again.
	DefaultRetries = 5
	// DefaultBackoff is the first pause before a retry; it doubles, to at
	// most MaxBackoff.
	DefaultBackoff = 500 * time.Millisecond
	// MaxBackoff caps the pause between retries.
	MaxBackoff = 30 * time.Second
)

// PushOptions configures PushManifest. The zero value pushes by digest
// with DefaultRetries and DefaultBackoff.
type PushOptions struct {
	// Tag, when set, points this tag at the manifest, which should already
	// be there by digest; empty pushes the manifest by its digest.
	Tag string
	// Retries is how often a PUT that failed temporarily (Temporary) is
	// tried again; zero means DefaultRetries. A stalled PUT is tried once
	// more, without a pause.
	Retries int
	// Backoff is the first pause before a retry; zero means DefaultBackoff.
	Backoff time.Duration
}

// PushManifest makes data, the bytes of manifest (or index) desc, available
// by desc's digest, or with opts.Tag under that tag, and confirms it. A GET
// that already serves bytes with desc's digest skips the PUT (pushed is
// false). Otherwise the bytes are PUT unchanged, with desc's media type,
// and fetched back, and what is served must hash to desc's digest. A
// registry that serves other bytes under the digest, or does not serve what
// it accepted, fails with ErrInconsistent; a PUT refused for a missing blob
// or child manifest matches ErrBlobUnknown.
func (r *Repository) PushManifest(ctx context.Context, desc ocispec.Descriptor, data []byte, opts PushOptions) (bool, error) {
	d := desc.Digest
	if opts.Tag != "" {
		return r.pushTag(ctx, desc, data, opts)
	}
	got, found, err := r.ManifestDigest(ctx, d.String(), d.Algorithm())
	switch {
	case err != nil:
		return false, fmt.Errorf("check whether the registry has it: %w", err)
	case found && got == d:
		return false, nil
	case found:
		return false, fmt.Errorf("%w: GET %s/%s/manifests/%s returns bytes whose digest is %s", ErrInconsistent, r.base.Host, r.Path(), d, got)
	}
	if err := r.putManifest(ctx, desc, data, d.String(), opts); err != nil {
		return false, fmt.Errorf("push: %w", err)
	}
	got, found, err = r.ManifestDigest(ctx, d.String(), d.Algorithm())
	switch {
	case err != nil:
		return false, fmt.Errorf("confirm the push: %w", err)
	case !found:
		return false, fmt.Errorf("%w: the registry accepted manifest %s (PUT answered 201) but GET by digest answers 404: it did not store it", ErrInconsistent, d)
	case got != d:
		return false, fmt.Errorf("%w: the registry accepted manifest %s but GET by digest returns bytes whose digest is %s", ErrInconsistent, d, got)
	}
	return true, nil
}

// pushTag points opts.Tag at desc unless it already does, and confirms it.
func (r *Repository) pushTag(ctx context.Context, desc ocispec.Descriptor, data []byte, opts PushOptions) (bool, error) {
	tag, alg := opts.Tag, desc.Digest.Algorithm()
	got, found, err := r.ManifestDigest(ctx, tag, alg)
	switch {
	case err != nil:
		return false, fmt.Errorf("resolve: %w", err)
	case found && got == desc.Digest:
		return false, nil
	}
	if err := r.putManifest(ctx, desc, data, tag, opts); err != nil {
		return false, err
	}
	got, found, err = r.ManifestDigest(ctx, tag, alg)
	switch {
	case err != nil:
		return false, fmt.Errorf("confirm the tag: %w", err)
	case !found:
		return false, fmt.Errorf("%w: the registry accepted tag %s (PUT answered 201) but GET of the tag answers 404", ErrInconsistent, tag)
	case got != desc.Digest:
		return false, fmt.Errorf("%w: the registry accepted tag %s for %s but GET of the tag returns %s", ErrInconsistent, tag, desc.Digest, got)
	}
	return true, nil
}

// putManifest sends PUT /v2/<path>/manifests/<ref>, trying again after
// temporary failures and once after a stall.
func (r *Repository) putManifest(ctx context.Context, desc ocispec.Descriptor, data []byte, ref string, opts PushOptions) error {
	retries, backoff := opts.Retries, opts.Backoff
	if retries <= 0 {
		retries = DefaultRetries
	}
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	stalls := 0
	for attempt := 0; ; attempt++ {
		err := r.putManifestOnce(ctx, desc, data, ref)
		if err == nil || attempt >= retries || ctx.Err() != nil {
			return err
		}
		switch {
		case errors.Is(err, ErrStalled):
			if stalls++; stalls > stallRetries {
				return err
			}
		case Temporary(err):
			if sleepCtx(ctx, backoff) != nil {
				return err
			}
			backoff = min(backoff*2, MaxBackoff)
		default:
			return err
		}
	}
}

func (r *Repository) putManifestOnce(ctx context.Context, desc ocispec.Descriptor, data []byte, ref string) error {
	req, err := http.NewRequestWithContext(r.scoped(ctx, ""), http.MethodPut, r.base.JoinPath("manifests", ref).String(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", desc.MediaType)
	resp, err := r.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return checkDigestHeader(resp, desc.Digest)
}

// ManifestDigest GETs manifest ref (a digest or a tag) and returns the
// digest, computed with alg (sha256 when alg is not available), of the
// bytes the registry serves; found is false when it answers 404. The bytes
// are not kept; more than MaxManifestBytes fail. A stalled request is tried
// once more.
func (r *Repository) ManifestDigest(ctx context.Context, ref string, alg digest.Algorithm) (d digest.Digest, found bool, err error) {
	err = r.retryStalled(ctx, func() error {
		var err error
		d, found, err = r.getManifest(ctx, ref, alg)
		return err
	})
	return d, found, err
}

func (r *Repository) getManifest(ctx context.Context, ref string, alg digest.Algorithm) (digest.Digest, bool, error) {
	req, err := http.NewRequestWithContext(r.scoped(ctx, ""), http.MethodGet, r.base.JoinPath("manifests", ref).String(), nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Accept", mediatype.Accept)
	resp, err := r.do(req, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		// Read the short error body so that the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return "", false, nil
	}
	if !alg.Available() {
		alg = digest.Canonical
	}
	h := alg.Digester()
	n, err := io.Copy(h.Hash(), io.LimitReader(resp.Body, MaxManifestBytes+1))
	if err != nil {
		return "", false, fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
	}
	if n > MaxManifestBytes {
		return "", false, fmt.Errorf("GET %s: the manifest is over %d bytes", req.URL.Redacted(), MaxManifestBytes)
	}
	return h.Digest(), true, nil
}

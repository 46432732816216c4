package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/lattice-mesh/meshpack/mirror/client"
)

// ErrRegistryInconsistent means the registry contradicted itself: it said
// it has a blob or manifest it then did not have, or accepted a manifest it
// then did not serve. Nothing it reports can be trusted; Load fails rather
// than report success.
var ErrRegistryInconsistent = errors.New("the registry's answers are inconsistent")

// manifestAccept is the Accept header of manifest GETs: every type Load
// pushes, so the registry serves the stored bytes unconverted.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest, dockerManifestList, dockerManifest,
}, ", ")

// pushArtifact waits for the manifests of its repository that other
// artifacts push, pushes its own (children first, each confirmed by a GET
// by digest) and then sets and confirms its tag.
func (l *loader) pushArtifact(ctx context.Context, at *artifactTask) error {
	if at.dup {
		return nil
	}
	defer func() {
		for _, p := range at.own {
			p.finish(fmt.Errorf("not pushed: %s failed first", at.label))
		}
	}()
	rc, err := l.repoFor(at.repo)
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s into %s/%s: %s: %w", at.label, l.t.host, at.repo, what, hint(err))
	}
	for _, p := range at.waits {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
		}
		if p.err != nil {
			return fail("manifest "+p.desc.Digest.String(), p.err)
		}
	}
	for _, p := range at.own {
		err := l.placeManifest(ctx, rc, p)
		p.finish(err)
		if err != nil {
			return fail("manifest "+p.desc.Digest.String(), err)
		}
	}
	if tag := at.a.Tag; tag != "" {
		if err := l.placeTag(ctx, rc, at.root, tag); err != nil {
			return fail("tag "+tag, err)
		}
	}
	emit(l.opts.Progress, Event{Kind: EventArtifactDone, Name: l.t.host + "/" + at.repo + tagSuffix(at.a.Tag) + "@" + at.root.Digest.String(), Descriptor: at.root})
	return nil
}

// placeManifest makes manifest p present by digest: a GET that returns its
// bytes skips it, else it is PUT and then fetched back.
func (l *loader) placeManifest(ctx context.Context, rc *repoClient, p *placement) error {
	d := p.desc.Digest
	got, found, err := l.manifestDigest(ctx, rc, d.String(), d.Algorithm())
	switch {
	case err != nil:
		return fmt.Errorf("check whether the registry has it: %w", err)
	case found && got == d:
		l.stats.manifestsSkipped.Add(1)
		return nil
	case found:
		return fmt.Errorf("%w: GET %s/%s/manifests/%s returns bytes whose digest is %s", ErrRegistryInconsistent, l.t.host, rc.path, d, got)
	}
	if err := l.putManifest(ctx, rc, p.desc, d.String()); err != nil {
		if isBlobUnknown(err) {
			return l.blobUnknown(rc, p, err)
		}
		return fmt.Errorf("push: %w", err)
	}
	got, found, err = l.manifestDigest(ctx, rc, d.String(), d.Algorithm())
	switch {
	case err != nil:
		return fmt.Errorf("confirm the push: %w", err)
	case !found:
		return fmt.Errorf("%w: the registry accepted manifest %s (PUT answered 201) but GET by digest answers 404: it did not store it", ErrRegistryInconsistent, d)
	case got != d:
		return fmt.Errorf("%w: the registry accepted manifest %s but GET by digest returns bytes whose digest is %s", ErrRegistryInconsistent, d, got)
	}
	l.stats.manifestsPushed.Add(1)
	return nil
}

// placeTag points tag at root unless it already does, and confirms it.
func (l *loader) placeTag(ctx context.Context, rc *repoClient, root ocispec.Descriptor, tag string) error {
	got, found, err := l.manifestDigest(ctx, rc, tag, root.Digest.Algorithm())
	switch {
	case err != nil:
		return fmt.Errorf("resolve: %w", err)
	case found && got == root.Digest:
		l.stats.tagsSkip.Add(1)
		return nil
	}
	if err := l.putManifest(ctx, rc, root, tag); err != nil {
		return err
	}
	got, found, err = l.manifestDigest(ctx, rc, tag, root.Digest.Algorithm())
	switch {
	case err != nil:
		return fmt.Errorf("confirm the tag: %w", err)
	case !found:
		return fmt.Errorf("%w: the registry accepted tag %s (PUT answered 201) but GET of the tag answers 404", ErrRegistryInconsistent, tag)
	case got != root.Digest:
		return fmt.Errorf("%w: the registry accepted tag %s for %s but GET of the tag returns %s", ErrRegistryInconsistent, tag, root.Digest, got)
	}
	l.stats.tagsPushed.Add(1)
	return nil
}

// blobUnknown explains a manifest PUT the registry refused for a missing
// blob: when its HEAD had said that blob exists, the registry lied.
func (l *loader) blobUnknown(rc *repoClient, p *placement, err error) error {
	var said []string
	for _, b := range p.node.blobs {
		if _, ok := l.headSaid.Load(rc.path + "@" + b.Digest.String()); ok {
			said = append(said, b.Digest.String())
			if strings.Contains(err.Error(), b.Digest.String()) {
				said[0], said[len(said)-1] = said[len(said)-1], said[0]
			}
		}
	}
	if len(said) == 0 {
		return fmt.Errorf("%w: the registry refused manifest %s because a blob or manifest it references is unknown, although Load uploaded or found each one: %w", ErrRegistryInconsistent, p.desc.Digest, err)
	}
	more := ""
	if len(said) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(said)-1)
	}
	return fmt.Errorf("%w: registry says blob %s%s exists in %s/%s (HEAD answered 200, so it was not uploaded) but refused manifest %s because a blob it references is unknown: %w; the registry, or a proxy or cache in front of it, answers HEAD wrongly: fix that, then re-run",
		ErrRegistryInconsistent, said[0], more, l.t.host, rc.path, p.desc.Digest, err)
}

// isBlobUnknown reports a manifest refused for a missing blob or child.
func isBlobUnknown(err error) bool {
	var re *errcode.ErrorResponse
	if !errors.As(err, &re) {
		return false
	}
	for _, e := range re.Errors {
		switch e.Code {
		case errcode.ErrorCodeManifestBlobUnknown, errcode.ErrorCodeBlobUnknown, errcode.ErrorCodeManifestUnknown:
			return true
		}
	}
	return false
}

func tagSuffix(tag string) string {
	if tag == "" {
		return ""
	}
	return ":" + tag
}

// putManifest pushes the bundle's bytes of manifest desc as ref (its digest
// or a tag), byte for byte, retrying transient failures (a stall once).
func (l *loader) putManifest(ctx context.Context, rc *repoClient, desc ocispec.Descriptor, ref string) error {
	raw, err := client.FetchManifest(ctx, l.r, desc)
	if err != nil {
		return fmt.Errorf("read from the bundle: %w", err)
	}
	backoff := l.opts.Backoff
	stalls := 0
	for attempt := 0; ; attempt++ {
		err = rc.putManifest(ctx, desc, raw, ref)
		if err == nil || attempt >= l.opts.Retries || ctx.Err() != nil {
			return err
		}
		switch classify(err, false) {
		case failStalled:
			if stalls++; stalls > stallRetries {
				return err
			}
		case failRetry:
			l.sleep(ctx, &backoff)
		default:
			return err
		}
	}
}

// manifestDigest GETs a manifest by digest or tag and returns the digest of
// the bytes served (found false on 404), retrying a stall once.
func (l *loader) manifestDigest(ctx context.Context, rc *repoClient, ref string, alg digest.Algorithm) (digest.Digest, bool, error) {
	var (
		d     digest.Digest
		found bool
	)
	err := l.retryStalled(ctx, func() error {
		var err error
		d, found, err = rc.getManifest(ctx, ref, alg)
		return err
	})
	return d, found, err
}

// getManifest sends GET /v2/<name>/manifests/<ref>.
func (rc *repoClient) getManifest(ctx context.Context, ref string, alg digest.Algorithm) (digest.Digest, bool, error) {
	req, err := http.NewRequestWithContext(rc.scoped(ctx, ""), http.MethodGet, rc.base.JoinPath("manifests", ref).String(), nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := rc.do(req, http.StatusOK, http.StatusNotFound)
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
	n, err := io.Copy(h.Hash(), io.LimitReader(resp.Body, client.MaxManifestBytes+1))
	if err != nil {
		return "", false, fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
	}
	if n > client.MaxManifestBytes {
		return "", false, fmt.Errorf("GET %s: the manifest is over %d bytes", req.URL.Redacted(), client.MaxManifestBytes)
	}
	return h.Digest(), true, nil
}

// putManifest sends PUT /v2/<name>/manifests/<ref>.
func (rc *repoClient) putManifest(ctx context.Context, desc ocispec.Descriptor, raw []byte, ref string) error {
	req, err := http.NewRequestWithContext(rc.scoped(ctx, ""), http.MethodPut, rc.base.JoinPath("manifests", ref).String(), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", desc.MediaType)
	resp, err := rc.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return checkDigestHeader(resp, desc.Digest)
}

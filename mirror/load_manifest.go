package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/lattice-mesh/meshpack/mirror/client"
)

// pushArtifact pushes an artifact's manifests (children first, each by
// digest unless the registry has it) and then sets its tag.
func (l *loader) pushArtifact(ctx context.Context, at *artifactTask) error {
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
	for _, m := range at.manifests {
		ok, err := rc.repo.Manifests().Exists(ctx, m)
		if err != nil {
			return fail("check manifest "+m.Digest.String(), err)
		}
		if ok {
			l.stats.manifestsSkipped.Add(1)
			continue
		}
		if err := l.putManifest(ctx, rc, m, m.Digest.String()); err != nil {
			return fail("push manifest "+m.Digest.String(), err)
		}
		l.stats.manifestsPushed.Add(1)
	}
	root := at.manifests[len(at.manifests)-1]
	if tag := at.a.Tag; tag != "" {
		desc, err := rc.repo.Resolve(ctx, tag)
		switch {
		case err == nil && desc.Digest == root.Digest:
			l.stats.tagsSkip.Add(1)
		case err == nil || errors.Is(err, errdef.ErrNotFound):
			if err := l.putManifest(ctx, rc, root, tag); err != nil {
				return fail("tag "+tag, err)
			}
			l.stats.tagsPushed.Add(1)
		default:
			return fail("resolve tag "+tag, err)
		}
	}
	emit(l.opts.Progress, Event{Kind: EventArtifactDone, Name: l.t.host + "/" + at.repo + tagSuffix(at.a.Tag) + "@" + root.Digest.String(), Descriptor: root})
	return nil
}

func tagSuffix(tag string) string {
	if tag == "" {
		return ""
	}
	return ":" + tag
}

// putManifest pushes the bundle's bytes of manifest desc as ref (its digest
// or a tag), byte for byte, retrying transient failures.
func (l *loader) putManifest(ctx context.Context, rc *repoClient, desc ocispec.Descriptor, ref string) error {
	raw, err := client.FetchManifest(ctx, l.r, desc)
	if err != nil {
		return fmt.Errorf("read from the bundle: %w", err)
	}
	backoff := l.opts.Backoff
	for attempt := 0; ; attempt++ {
		err = rc.putManifest(ctx, desc, raw, ref)
		if err == nil || attempt >= l.opts.Retries || classify(err, false) != failRetry || ctx.Err() != nil {
			return err
		}
		l.sleep(ctx, &backoff)
	}
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

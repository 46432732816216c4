package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
)

// ErrRegistryInconsistent means the registry contradicted itself: it said
// it has a blob or manifest it then did not have, or accepted a manifest it
// then did not serve. Nothing it reports can be trusted; Load fails rather
// than report success. It is remote.ErrInconsistent.
var ErrRegistryInconsistent = remote.ErrInconsistent

// pushArtifact waits for the manifests of its repository that other
// artifacts push, pushes its own (children first, each confirmed by a GET
// by digest) and then sets and confirms its tag, unless checkTags found it
// pointing elsewhere under TagSkip.
func (l *loader) pushArtifact(ctx context.Context, at *artifactTask) error {
	if at.dup {
		return nil
	}
	defer func() {
		for _, p := range at.own {
			p.finish(fmt.Errorf("not pushed: %s failed first", at.label))
		}
	}()
	rc, err := l.repoFor(ctx, at.repo)
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
	if tag := at.a.Tag; tag != "" && !at.skipTag {
		if err := l.placeTag(ctx, rc, at); err != nil {
			return fail("tag "+tag, err)
		}
	}
	shown := at.a.Tag
	if at.skipTag {
		shown = ""
	}
	l.opts.Progress.Emit(progress.Event{Kind: progress.ArtifactDone, Name: l.t.host + "/" + at.repo + tagSuffix(shown) + "@" + at.root.Digest.String(), ArtifactKind: at.a.Kind, Descriptor: at.root})
	return nil
}

// placeManifest makes manifest p present by digest, byte for byte, and
// counts whether it was pushed or already there.
func (l *loader) placeManifest(ctx context.Context, rc *remote.Repository, p *placement) error {
	raw, err := l.manifestBytes(ctx, p.desc)
	if err != nil {
		return err
	}
	pushed, err := rc.PushManifest(ctx, p.desc, raw, l.pushOptions(""))
	switch {
	case errors.Is(err, remote.ErrBlobUnknown):
		return l.blobUnknown(rc, p, err)
	case err != nil:
		return err
	case pushed:
		l.stats.manifestsPushed.Add(1)
	default:
		l.stats.manifestsSkipped.Add(1)
	}
	return nil
}

// placeTag points at's tag at its root unless it already does, and
// confirms it. Unless the policy is TagOverwrite, a tag that another client
// moved since checkTags is left alone (TagSkip) or fails the artifact.
func (l *loader) placeTag(ctx context.Context, rc *remote.Repository, at *artifactTask) error {
	root, tag := at.root, at.a.Tag
	if skip, err := l.recheckTag(ctx, rc, at); skip || err != nil {
		return err
	}
	raw, err := l.manifestBytes(ctx, root)
	if err != nil {
		return err
	}
	pushed, err := rc.PushManifest(ctx, root, raw, l.pushOptions(tag))
	switch {
	case err != nil:
		return err
	case pushed:
		l.stats.tagsPushed.Add(1)
	default:
		l.stats.tagsSkip.Add(1)
	}
	return nil
}

// pushOptions are the manifest push options of this load.
func (l *loader) pushOptions(tag string) remote.PushOptions {
	return remote.PushOptions{Tag: tag, Retries: l.opts.Retries, Backoff: l.opts.Backoff}
}

// manifestBytes reads manifest desc from the bundle, checking its digest.
func (l *loader) manifestBytes(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	raw, err := remote.FetchManifest(ctx, l.r, desc)
	if err != nil {
		return nil, fmt.Errorf("read from the bundle: %w", err)
	}
	return raw, nil
}

// blobUnknown explains a manifest PUT the registry refused for a missing
// blob: when its HEAD had said that blob exists, the registry lied.
func (l *loader) blobUnknown(rc *remote.Repository, p *placement, err error) error {
	var said []string
	for _, b := range p.node.blobs {
		if _, ok := l.headSaid.Load(rc.Path() + "@" + b.Digest.String()); ok {
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
		ErrRegistryInconsistent, said[0], more, l.t.host, rc.Path(), p.desc.Digest, err)
}

func tagSuffix(tag string) string {
	if tag == "" {
		return ""
	}
	return ":" + tag
}

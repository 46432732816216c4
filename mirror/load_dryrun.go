package mirror

import (
	"context"
	"fmt"
)

// LoadPlanSummary is what a load would do, as LoadOptions.DryRun reports
// it: blob counts are per repository, like LoadResult's.
type LoadPlanSummary struct {
	// BlobsToPush would be uploaded, BlobsToMount mounted from another
	// repository of the target, BlobsToSkip are there already.
	BlobsToPush  int   `json:"blobsToPush"`
	BytesToPush  int64 `json:"bytesToPush"`
	BlobsToMount int   `json:"blobsToMount"`
	BytesToMount int64 `json:"bytesToMount"`
	BlobsToSkip  int   `json:"blobsToSkip"`
	BytesToSkip  int64 `json:"bytesToSkip"`
	// ManifestsToPush and ManifestsPresent count manifests and indexes by
	// digest.
	ManifestsToPush  int `json:"manifestsToPush"`
	ManifestsPresent int `json:"manifestsPresent"`
	// TagsToSet are new, TagsRight already point at the bundle's digest,
	// TagsToRetag would move (TagOverwrite), TagsToSkip stay on another
	// digest (TagSkip), TagsConflicting refuse the load (TagFail).
	TagsToSet       int `json:"tagsToSet"`
	TagsRight       int `json:"tagsRight"`
	TagsToRetag     int `json:"tagsToRetag"`
	TagsToSkip      int `json:"tagsToSkip"`
	TagsConflicting int `json:"tagsConflicting"`
}

// prepush runs the last checks before the first write: the tag policy
// (checkTags) and the blobs an incremental bundle leaves out (checkAbsent).
// With DryRun it then fills res.Plan with HEAD and GET requests only and
// reports done: nothing is to be pushed.
func (l *loader) prepush(ctx context.Context, p *loadPlan, base string, res *LoadResult) (done bool, err error) {
	conflicts, tagErr := l.checkTags(ctx, p)
	res.TagConflicts = conflicts
	unskipped(p, res.Artifacts)
	if tagErr != nil && (!l.opts.DryRun || len(conflicts) == 0) {
		return true, tagErr
	}
	if err := l.checkAbsent(ctx, p, base); err != nil {
		return true, err
	}
	if !l.opts.DryRun {
		return false, nil
	}
	res.DryRun = true
	if res.Plan, err = l.dryRun(ctx, p); err != nil {
		return true, err
	}
	return true, tagErr
}

// dryRun asks the registry (HEAD only) what a load of p would push, mount
// and skip, and counts the tags checkTags classified.
func (l *loader) dryRun(ctx context.Context, p *loadPlan) (*LoadPlanSummary, error) {
	s := &LoadPlanSummary{}
	for _, b := range p.blobs {
		src := ""
		present := make([]bool, len(b.repos))
		for i, path := range b.repos {
			ok, err := l.blobExists(ctx, b, path)
			if err != nil {
				return nil, l.blobErr(ctx, b, path, "check whether the registry has it", err)
			}
			if present[i] = ok; ok && src == "" {
				src = path
			}
		}
		for i, path := range b.repos {
			switch {
			case present[i]:
				s.BlobsToSkip++
				s.BytesToSkip += b.desc.Size
			case src != "":
				s.BlobsToMount++
				s.BytesToMount += b.desc.Size
			default:
				s.BlobsToPush++
				s.BytesToPush += b.desc.Size
				src = path
			}
		}
	}
	for _, at := range p.artifacts {
		if at.dup {
			continue
		}
		rc, err := l.repoFor(ctx, at.repo)
		if err != nil {
			return nil, err
		}
		for _, pl := range at.own {
			ok, err := rc.Exists(ctx, pl.desc)
			if err != nil {
				return nil, fmt.Errorf("%s into %s/%s: manifest %s: check whether the registry has it: %w", at.label, l.t.host, at.repo, pl.desc.Digest, hint(err))
			}
			if ok {
				s.ManifestsPresent++
			} else {
				s.ManifestsToPush++
			}
		}
		switch {
		case at.a.Tag == "":
		case at.tagExists:
			s.TagsRight++
		case !at.conflict:
			s.TagsToSet++
		case at.skipTag:
			s.TagsToSkip++
		case l.opts.OnExistingTag == TagOverwrite:
			s.TagsToRetag++
		default:
			s.TagsConflicting++
		}
	}
	return s, nil
}

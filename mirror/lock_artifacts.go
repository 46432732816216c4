package mirror

import (
	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
)

// LockArtifacts returns where a bundle made from lock puts each image,
// chart and file below a registry prefix once loaded, as BOM artifacts:
// Kind, Name, Source, Repository and Tag as bundle create records them, and
// for images the digest the lock pins (the root a load pushes unless the
// bundle was made with a platform filter). Chart and file artifacts have no
// digest: meshpack builds their OCI manifests, so only their content
// digests (in the lock) are known in advance.
func LockArtifacts(lock manifests.Lock) ([]bundle.Artifact, error) {
	var out []bundle.Artifact
	for _, li := range lock.Images {
		path, tag, err := repoPath(li.Reference)
		if err != nil {
			return nil, err
		}
		out = append(out, bundle.Artifact{Kind: bundle.KindImage, Name: li.Name, Source: li.Reference, Repository: path, Tag: tag, Digest: li.Digest, MediaType: li.MediaType, Size: li.Size})
	}
	for _, lc := range lock.Charts {
		out = append(out, bundle.Artifact{Kind: bundle.KindChart, Name: lc.Name, Source: lc.Source, Repository: "charts/" + lc.Name, Tag: helmTag(lc.Version)})
	}
	for _, lf := range lock.Files {
		out = append(out, bundle.Artifact{Kind: bundle.KindFile, Name: lf.Name, Source: lf.Source, Repository: "files/" + orDefault(lf.Component, "misc"), Tag: fileTag(lf)})
	}
	return out, nil
}

package manifests

import (
	"bytes"
	"io"
	"slices"
	"sort"
	"strings"
)

// lockHeader starts every marshalled lock.
const lockHeader = `# meshpack lock: every image, chart and file of one mesh bundle, pinned by digest.
# Written by "meshpack resolve"; rebuild the bundle exactly with
# "meshpack bundle create --lock FILE". Do not edit by hand.
`

// Pinned values of LockedChart.Pinned and LockedFile.Pinned.
const (
	PinnedCatalog   = "catalog"
	PinnedRepoIndex = "repo-index"
	PinnedResolved  = "resolved"
	// PinnedUpstreamSHA256: the sha256 upstream publishes beside the file
	// (Istio's NAME.sha256), checked against the download.
	PinnedUpstreamSHA256 = "upstream-sha256"
)

// LoadLock reads a lock strictly (unknown fields rejected with their path and
// line) and validates it.
func LoadLock(r io.Reader) (*Lock, error) {
	var l Lock
	if err := decodeStrict(r, "lock", &l); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Sort puts every list of the lock in its canonical order: images by
// reference, charts by name then version, files by name then source, and
// platforms, components and variants inside them.
func (l *Lock) Sort() {
	for i := range l.Images {
		img := &l.Images[i]
		sort.SliceStable(img.Platforms, func(a, b int) bool {
			pa, pb := img.Platforms[a], img.Platforms[b]
			return pa.Platform < pb.Platform || pa.Platform == pb.Platform && pa.Digest < pb.Digest
		})
		img.Components = sortedUnique(img.Components)
	}
	sort.SliceStable(l.Images, func(a, b int) bool { return l.Images[a].Reference < l.Images[b].Reference })
	sort.SliceStable(l.Charts, func(a, b int) bool {
		ca, cb := l.Charts[a], l.Charts[b]
		return ca.Name < cb.Name || ca.Name == cb.Name && ca.Version < cb.Version
	})
	sort.SliceStable(l.Files, func(a, b int) bool {
		fa, fb := l.Files[a], l.Files[b]
		return fa.Name < fb.Name || fa.Name == fb.Name && fa.Source < fb.Source
	})
	l.Notes = slices.Compact(l.Notes)
}

// Marshal renders the lock as deterministic YAML: a header comment, fields in
// declaration order, every list sorted (on a copy; l is not changed).
func (l *Lock) Marshal() ([]byte, error) {
	c := l.clone()
	c.Sort()
	body, err := encodeYAML(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(lockHeader)
	buf.Write(body)
	return buf.Bytes(), nil
}

func (l *Lock) clone() *Lock {
	c := *l
	c.Images = make([]LockedImage, len(l.Images))
	for i, img := range l.Images {
		img.Platforms = slices.Clone(img.Platforms)
		img.Components = slices.Clone(img.Components)
		c.Images[i] = img
	}
	c.Charts = slices.Clone(l.Charts)
	c.Files = slices.Clone(l.Files)
	c.Notes = slices.Clone(l.Notes)
	return &c
}

// Validate checks a lock: apiVersion and kind, its spec, the set, every
// digest ("sha256:" + 64 hex), size (> 0), image reference (fully qualified,
// with a tag) and source, and that every list is sorted and free of duplicates.
func (l *Lock) Validate() error {
	var p problems
	if l.APIVersion != APIVersion {
		p.add("apiVersion", 0, "%q is not %s", l.APIVersion, APIVersion)
	}
	if l.Kind != LockKind {
		p.add("kind", 0, "%q is not %s", l.Kind, LockKind)
	}
	l.Spec.validate(&p, "spec")
	if len(l.Spec.Mirrors) > 0 {
		p.add("spec.mirrors", 0, "a lock names canonical upstream sources only; mirrors belong to the client that uses it")
	}
	if l.Spec.HasIstio() && !isExactVersion(l.Set.Istio) {
		p.add("set.istio", 0, "%q is not an exact version like 1.30.3", l.Set.Istio)
	}
	if l.Set.Kiali != "" && !isExactVersion(l.Set.Kiali) {
		p.add("set.kiali", 0, "%q is not an exact version like 2.26.0", l.Set.Kiali)
	}
	if l.Set.GatewayAPI != "" && !isExactVersion(l.Set.GatewayAPI) {
		p.add("set.gatewayAPI", 0, "%q is not an exact version like v1.5.1", l.Set.GatewayAPI)
	}
	if rf := l.Set.ResolvedFrom; rf != nil {
		switch rf.Source {
		case IstioFromExact, IstioFromCatalog, IstioFromUpstream:
		default:
			p.add("set.resolvedFrom.source", 0, "%q is not one of exact, catalog, upstream", rf.Source)
		}
	}
	for i := range l.Images {
		validateLockedImage(&p, indexPath("images", i), &l.Images[i])
		if i > 0 && l.Images[i-1].Reference >= l.Images[i].Reference {
			p.add(indexPath("images", i), 0, "%q is out of order or duplicated; images are sorted by reference", l.Images[i].Reference)
		}
	}
	for i, c := range l.Charts {
		at := indexPath("charts", i)
		requireText(&p, at, map[string]string{"name": c.Name, "version": c.Version})
		validateSource(&p, joinPath(at, "source"), c.Source)
		validateDigestField(&p, joinPath(at, "digest"), c.Digest)
		validateDigestField(&p, joinPath(at, "contentDigest"), c.ContentDigest)
		validateSize(&p, joinPath(at, "size"), c.Size)
		validatePinned(&p, joinPath(at, "pinned"), c.Pinned)
		if i > 0 && (l.Charts[i-1].Name > c.Name || l.Charts[i-1].Name == c.Name && l.Charts[i-1].Version >= c.Version) {
			p.add(at, 0, "chart %s %s is out of order or duplicated; charts are sorted by name", c.Name, c.Version)
		}
	}
	for i, f := range l.Files {
		at := indexPath("files", i)
		requireText(&p, at, map[string]string{"name": f.Name})
		validateSource(&p, joinPath(at, "source"), f.Source)
		validateDigestField(&p, joinPath(at, "digest"), f.Digest)
		validateSize(&p, joinPath(at, "size"), f.Size)
		validatePinned(&p, joinPath(at, "pinned"), f.Pinned)
		if f.Platform != "" {
			if err := ValidatePlatform(f.Platform); err != nil {
				p.add(joinPath(at, "platform"), 0, "%v", err)
			}
		}
		if i > 0 && (l.Files[i-1].Name > f.Name || l.Files[i-1].Name == f.Name && l.Files[i-1].Source >= f.Source) {
			p.add(at, 0, "file %s is out of order or duplicated; files are sorted by name", f.Name)
		}
	}
	return p.err("lock")
}

func validateLockedImage(p *problems, at string, img *LockedImage) {
	requireText(p, at, map[string]string{"name": img.Name, "mediaType": img.MediaType})
	if err := checkLockedReference(img.Reference); err != nil {
		p.add(joinPath(at, "reference"), 0, "%v", err)
	}
	validateDigestField(p, joinPath(at, "digest"), img.Digest)
	validateSize(p, joinPath(at, "size"), img.Size)
	for j, pl := range img.Platforms {
		pp := indexPath(joinPath(at, "platforms"), j)
		if err := ValidatePlatform(pl.Platform); err != nil {
			p.add(joinPath(pp, "platform"), 0, "%v", err)
		}
		validateDigestField(p, joinPath(pp, "digest"), pl.Digest)
		validateSize(p, joinPath(pp, "size"), pl.Size)
		if j > 0 {
			prev := img.Platforms[j-1]
			if prev.Platform > pl.Platform || prev.Platform == pl.Platform && prev.Digest >= pl.Digest {
				p.add(pp, 0, "platform %s is out of order or duplicated; platforms are sorted", pl.Platform)
			}
		}
	}
}

func requireText(p *problems, at string, fields map[string]string) {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if strings.TrimSpace(fields[k]) == "" {
			p.add(joinPath(at, k), 0, "required")
		}
	}
}

func validateDigestField(p *problems, at, d string) {
	if !ValidDigest(d) {
		p.add(at, 0, "%q is not sha256:<64 lowercase hex>", d)
	}
}

func validateSize(p *problems, at string, n int64) {
	if n <= 0 {
		p.add(at, 0, "%d; want the byte size (> 0)", n)
	}
}

func validateSource(p *problems, at, src string) {
	if !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "oci://") && !strings.HasPrefix(src, "file:///") {
		p.add(at, 0, "%q is not an https:// URL, oci:// reference or file:/// path (a local extra manifest)", src)
	}
}

func validatePinned(p *problems, at, v string) {
	switch v {
	case "", PinnedCatalog, PinnedRepoIndex, PinnedResolved, PinnedUpstreamSHA256, PinnedSpec:
	default:
		p.add(at, 0, "%q is not one of %s, %s, %s, %s, %s", v, PinnedCatalog, PinnedRepoIndex, PinnedResolved, PinnedUpstreamSHA256, PinnedSpec)
	}
}

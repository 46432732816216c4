package manifests

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrNoPublishedPatch is matched by errors of ChooseNewestPatch when no
// patch of the minor is published completely (charts and image tags).
var ErrNoPublishedPatch = errors.New("no patch published with both charts and images")

// PatchEvidence is what upstream publishes for one Istio minor: the chart
// versions its Helm repository index lists, and the tags of each image
// repository. resolve gathers it; ChooseNewestPatch judges it.
type PatchEvidence struct {
	// ChartIndex is the index read, e.g.
	// "https://istio-release.storage.googleapis.com/charts/index.yaml".
	ChartIndex string
	// Charts maps each chart the bundle installs to the versions the index
	// lists for it ("1.30.4" or "v1.30.4").
	Charts map[string][]string
	// Tags maps each image repository the bundle needs (canonical, e.g.
	// "docker.io/istio/pilot") to its tags.
	Tags map[string][]string
}

// ImageRepositories returns the canonical repositories of the images a
// bundle of the minor needs with opts, sorted: whose tags ChooseNewestPatch
// checks.
func (c *Catalog) ImageRepositories(minor string, opts ImageOptions) ([]string, error) {
	imgs, err := c.ExpectedImages(minor+".0", opts)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range imgs {
		repo, _ := splitTag(img.Reference)
		if !slices.Contains(out, repo) {
			out = append(out, repo)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ChooseNewestPatch picks the newest stable patch of minor that ev shows
// published completely: every chart in ev.Charts lists it, and every image
// the catalog expects for it with opts has its tag. A chart without its
// images is never picked; each newer patch that was not picked is listed in
// the choice with the reason. Pre-releases are never picked. It returns
// the version and the record for the lock (Source "upstream").
func (c *Catalog) ChooseNewestPatch(minor string, ev PatchEvidence, opts ImageOptions) (string, IstioChoice, error) {
	rel := c.Release(minor)
	if rel == nil {
		return "", IstioChoice{}, c.unknownMinor(minor)
	}
	choice := IstioChoice{Requested: minor, Source: IstioFromUpstream, CatalogLatest: rel.Latest, ChartIndex: ev.ChartIndex}
	for repo := range ev.Tags {
		choice.ImageRepositories = append(choice.ImageRepositories, repo)
	}
	sort.Strings(choice.ImageRepositories)
	chartNames := make([]string, 0, len(ev.Charts))
	for name := range ev.Charts {
		chartNames = append(chartNames, name)
	}
	sort.Strings(chartNames)
	candidates := publishedPatches(minor, ev.Charts)
	for _, v := range candidates {
		choice.Published = append(choice.Published, v.String())
	}
	slices.Reverse(choice.Published) // ascending
	for _, v := range candidates {
		version := v.String()
		why, err := c.incomplete(version, chartNames, ev, opts)
		if err != nil {
			return "", IstioChoice{}, err
		}
		if why != "" {
			choice.Skipped = append(choice.Skipped, version+": "+why)
			continue
		}
		choice.Reason = c.choiceReason(rel, version, chartNames, ev)
		if len(choice.Skipped) > 0 {
			choice.Reason += "; newer: " + strings.Join(choice.Skipped, "; ")
		}
		return version, choice, nil
	}
	detail := "the index lists no " + minor + " patch"
	if len(choice.Skipped) > 0 {
		detail = strings.Join(choice.Skipped, "; ")
	}
	return "", choice, fmt.Errorf("istio %s: %w at %s: %s", minor, ErrNoPublishedPatch, ev.ChartIndex, detail)
}

// publishedPatches returns the stable patches of minor that any chart
// lists, newest first.
func publishedPatches(minor string, charts map[string][]string) []*semver.Version {
	seen := map[string]bool{}
	var out []*semver.Version
	for _, versions := range charts {
		for _, raw := range versions {
			v, err := semver.StrictNewVersion(trimV(raw))
			if err != nil || v.Prerelease() != "" || v.Metadata() != "" || minorOf(v.String()) != minor || seen[v.String()] {
				continue
			}
			seen[v.String()] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GreaterThan(out[j]) })
	return out
}

// incomplete says what upstream lacks of version, or "" when it has all.
func (c *Catalog) incomplete(version string, charts []string, ev PatchEvidence, opts ImageOptions) (string, error) {
	var missing []string
	for _, name := range charts {
		if !slices.ContainsFunc(ev.Charts[name], func(v string) bool { return trimV(v) == version }) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "chart " + strings.Join(missing, ", ") + " not in the index", nil
	}
	imgs, err := c.ExpectedImages(version, opts)
	if err != nil {
		return "", err
	}
	var noTag []string
	for _, img := range imgs {
		repo, tag := splitTag(img.Reference)
		if !slices.Contains(ev.Tags[repo], tag) {
			noTag = append(noTag, img.Reference)
		}
	}
	if len(noTag) > 0 {
		return "charts published but no image tag " + strings.Join(noTag, ", "), nil
	}
	return "", nil
}

func (c *Catalog) choiceReason(rel *IstioRelease, version string, charts []string, ev PatchEvidence) string {
	var cmp string
	switch {
	case rel.Latest == "":
		cmp = "the catalog knows no " + rel.Minor + " patch"
	case version == rel.Latest:
		cmp = "the same as the catalog's choice"
	case outsideBounds(version, rel.Latest, "") == "below":
		cmp = "older than the catalog's choice " + rel.Latest + ", which upstream does not publish completely"
	default:
		cmp = "newer than the catalog's choice " + rel.Latest
	}
	return fmt.Sprintf("newest %s patch published upstream with charts (%s in %s) and image tags; %s",
		rel.Minor, strings.Join(charts, ", "), ev.ChartIndex, cmp)
}

// splitTag splits "docker.io/istio/pilot:1.30.3" into repository and tag.
func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

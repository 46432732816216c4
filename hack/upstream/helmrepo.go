package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// repoIndex is a Helm repository index.yaml.
type repoIndex struct {
	APIVersion string                  `json:"apiVersion"`
	Entries    map[string][]indexEntry `json:"entries"`
	Generated  string                  `json:"generated"`
}

// indexEntry is one chart version in a repoIndex.
type indexEntry struct {
	chartMeta
	Created string   `json:"created"`
	Digest  string   `json:"digest"` // hex sha256 of the .tgz
	URLs    []string `json:"urls"`
}

// istioIndex renders the index.yaml of the Istio HTTP Helm repo for charts,
// with absolute URLs below istioChartRepo as the real repository has them
// (clients apply --mirror to the URL).
func istioIndex(charts []builtChart) ([]byte, error) {
	idx := repoIndex{
		APIVersion: "v1",
		Entries:    map[string][]indexEntry{},
		Generated:  epoch.Format(time.RFC3339Nano),
	}
	for _, c := range charts {
		sum := sha256.Sum256(c.tgz)
		idx.Entries[c.meta.Name] = append(idx.Entries[c.meta.Name], indexEntry{
			chartMeta: c.meta,
			Created:   epoch.Format(time.RFC3339Nano),
			Digest:    hex.EncodeToString(sum[:]),
			URLs:      []string{fmt.Sprintf("%s/%s-%s.tgz", istioChartRepo, c.meta.Name, c.meta.Version)},
		})
	}
	// Newest first, as helm repo index sorts them.
	for _, entries := range idx.Entries {
		sort.SliceStable(entries, func(i, j int) bool {
			vi, erri := semver.NewVersion(entries[i].Version)
			vj, errj := semver.NewVersion(entries[j].Version)
			if erri != nil || errj != nil {
				return entries[i].Version > entries[j].Version
			}
			return vi.GreaterThan(vj)
		})
	}
	b, err := yaml.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("istio helm index: %w", err)
	}
	return b, nil
}

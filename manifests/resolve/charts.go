package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/remote"
)

// Caps for what the resolver reads into memory.
const (
	maxRepoIndexBytes = 64 << 20
	maxChartBytes     = 64 << 20
	maxFileBytes      = 256 << 20
)

// ErrChartMismatch is matched by errors about a chart archive whose sha256
// differs from what its repository index or the catalog pins: a sign of
// tampering, so the resolver stops instead of trying another source.
var ErrChartMismatch = errors.New("chart archive does not match its pinned digest")

// repoIndex is the part of a Helm repository index.yaml the resolver reads.
type repoIndex struct {
	Entries map[string][]repoEntry `json:"entries"`
}

type repoEntry struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Digest  string   `json:"digest"`
	URLs    []string `json:"urls"`
}

// fetchedChart is a chart pinned for the lock plus its bytes for rendering.
type fetchedChart struct {
	locked manifests.LockedChart
	tgz    []byte
}

// indexCache keeps each repository index fetched once per resolve.
type indexCache map[string]*repoIndex

// fetchHTTPChart finds name@version in the Helm repository at repoURL,
// downloads the archive and pins its sha256. When the index gives a digest,
// the archive must match it; when want is set (a catalog pin), it must match
// that too.
func fetchHTTPChart(ctx context.Context, c *remote.Client, cache indexCache, repoURL, name, version, want string) (*fetchedChart, error) {
	repoURL = strings.TrimRight(repoURL, "/")
	idx, err := cache.get(ctx, c, repoURL)
	if err != nil {
		return nil, err
	}
	var entry *repoEntry
	for i, e := range idx.Entries[name] {
		if e.Version == version || e.Version == "v"+version {
			entry = &idx.Entries[name][i]
			break
		}
	}
	if entry == nil || len(entry.URLs) == 0 {
		return nil, fmt.Errorf("chart %s %s: not in the repository index %s/index.yaml", name, version, repoURL)
	}
	chartURL, err := absoluteURL(repoURL, entry.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", name, version, err)
	}
	data, sum, err := download(ctx, c, chartURL, maxChartBytes)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", name, version, err)
	}
	pinned := "resolved"
	if entry.Digest != "" {
		if !strings.EqualFold(entry.Digest, sum) {
			return nil, fmt.Errorf("chart %s %s: %s has sha256 %s but the repository index says %s: %w", name, version, chartURL, sum, entry.Digest, ErrChartMismatch)
		}
		pinned = "repo-index"
	}
	if want != "" {
		if !strings.EqualFold(strings.TrimPrefix(want, "sha256:"), sum) {
			return nil, fmt.Errorf("chart %s %s: %s has sha256 %s but the catalog pins %s: %w", name, version, chartURL, sum, want, ErrChartMismatch)
		}
		pinned = "catalog"
	}
	return &fetchedChart{
		locked: manifests.LockedChart{
			Name: name, Version: entry.Version, Source: chartURL,
			Digest: "sha256:" + sum, ContentDigest: "sha256:" + sum,
			Size: int64(len(data)), Pinned: pinned,
		},
		tgz: data,
	}, nil
}

func (ic indexCache) get(ctx context.Context, c *remote.Client, repoURL string) (*repoIndex, error) {
	if idx, ok := ic[repoURL]; ok {
		return idx, nil
	}
	raw, _, err := download(ctx, c, repoURL+"/index.yaml", maxRepoIndexBytes)
	if err != nil {
		return nil, fmt.Errorf("helm repository %s: %w", repoURL, err)
	}
	var idx repoIndex
	if err := yaml.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("helm repository %s: index.yaml: %w", repoURL, err)
	}
	ic[repoURL] = &idx
	return &idx, nil
}

// absoluteURL resolves a chart URL from an index relative to the repository.
func absoluteURL(repoURL, ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("chart URL %q: %w", ref, err)
	}
	if u.IsAbs() {
		return ref, nil
	}
	base, err := url.Parse(repoURL + "/")
	if err != nil {
		return "", err
	}
	return base.ResolveReference(u).String(), nil
}

// download reads url fully (bounded by limit) and returns its hex sha256.
func download(ctx context.Context, c *remote.Client, u string, limit int64) ([]byte, string, error) {
	body, _, err := c.Get(ctx, u)
	if err != nil {
		return nil, "", err
	}
	defer body.Close()
	h := sha256.New()
	data, err := io.ReadAll(io.TeeReader(io.LimitReader(body, limit+1), h))
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("GET %s: larger than %d bytes", u, limit)
	}
	return data, hex.EncodeToString(h.Sum(nil)), nil
}

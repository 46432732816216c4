package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// Base is what an incremental bundle (PullOptions.Base) leaves out: the
// blobs its base already delivered. ID names the base in the new bundle's
// BOM (BOM.Base): a base bundle's id, or an inventory's digest.
type Base struct {
	ID    string
	Blobs map[string]bool
}

// BaseFromBOM is the base a bundle makes, from the exact bytes of its
// meshpack/bom.json (or bundle inspect --bom): every blob it lists. The
// blobs an incremental base itself left to its own base are not known
// here; an inventory of the enclave registry knows them.
func BaseFromBOM(bomJSON []byte) (*Base, error) {
	bom, err := bundle.ParseBOM(bomJSON)
	if err != nil {
		return nil, err
	}
	b := &Base{ID: BundleID(bomJSON), Blobs: map[string]bool{}}
	for _, bl := range bom.Blobs {
		b.Blobs[bl.Digest] = true
	}
	return b, nil
}

// InventoryKind is the kind of an inventory document.
const InventoryKind = "MeshpackInventory"

// Inventory is what a registry holds below a prefix, as registry inventory
// exports it: every manifest (REPO@DIGEST) reachable from a tag, and every
// blob those manifests reference (a registry accepts a manifest only with
// its blobs present).
type Inventory struct {
	Kind          string    `json:"kind"`
	SchemaVersion int       `json:"schemaVersion"`
	Registry      string    `json:"registry"`
	Created       time.Time `json:"created"`
	Repositories  int       `json:"repositories"`
	Manifests     []string  `json:"manifests"`
	Blobs         []string  `json:"blobs"`
}

// BaseFromInventory is the base an inventory makes; raw is the inventory
// file's bytes (its digest is the base's id).
func BaseFromInventory(raw []byte) (*Base, error) {
	var inv Inventory
	if err := json.Unmarshal(raw, &inv); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	if inv.Kind != InventoryKind || inv.SchemaVersion != 1 {
		return nil, fmt.Errorf("inventory: kind %q schema %d, want %s schema 1", inv.Kind, inv.SchemaVersion, InventoryKind)
	}
	b := &Base{ID: digest.FromBytes(raw).String(), Blobs: map[string]bool{}}
	for _, d := range inv.Blobs {
		b.Blobs[d] = true
	}
	return b, nil
}

// TakeInventory walks every repository below registry's prefix (the
// registry's catalog), every tag and every manifest reachable from it, and
// lists the manifests and the blobs they reference.
func TakeInventory(ctx context.Context, c *remote.Client, registry string) (*Inventory, error) {
	t, err := parseTarget(registry, "")
	if err != nil {
		return nil, err
	}
	repos, err := c.Catalog(ctx, t.host)
	if err != nil {
		return nil, fmt.Errorf("the catalog of %s: %w", t.host, err)
	}
	inv := &Inventory{Kind: InventoryKind, SchemaVersion: 1, Registry: registry, Created: time.Now().UTC().Truncate(time.Second)}
	manifests, blobs := map[string]bool{}, map[string]bool{}
	for _, repo := range repos {
		if t.prefix != "" && !strings.HasPrefix(repo, t.prefix+"/") {
			continue
		}
		inv.Repositories++
		rc, err := c.RepositoryAt(ctx, t.host, repo)
		if err != nil {
			return nil, err
		}
		tags, err := rc.Tags(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: tags: %w", t.host, repo, err)
		}
		for _, tag := range tags {
			desc, err := rc.Resolve(ctx, tag)
			if err != nil {
				return nil, fmt.Errorf("%s/%s:%s: %w", t.host, repo, tag, err)
			}
			if manifests[repo+"@"+desc.Digest.String()] {
				continue // another tag of the same manifest
			}
			if err := walkManifests(ctx, rc, desc, inventoryVisit(repo, manifests, blobs)); err != nil {
				return nil, fmt.Errorf("%s/%s:%s: %w", t.host, repo, tag, err)
			}
		}
	}
	inv.Manifests, inv.Blobs = slices.Sorted(maps.Keys(manifests)), slices.Sorted(maps.Keys(blobs))
	return inv, nil
}

// inventoryVisit records a manifest of repo and, for an image manifest, its
// config and layers.
func inventoryVisit(repo string, manifests, blobs map[string]bool) func(ocispec.Descriptor, []byte) error {
	return func(d ocispec.Descriptor, raw []byte) error {
		manifests[repo+"@"+d.Digest.String()] = true
		blobs[d.Digest.String()] = true // a manifest is a blob of the bundle too
		if mediatype.IsIndex(d.MediaType) {
			return nil
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%s@%s: %w", repo, d.Digest, err)
		}
		blobs[m.Config.Digest.String()] = true
		for _, l := range m.Layers {
			blobs[l.Digest.String()] = true
		}
		return nil
	}
}

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-mesh/meshpack/manifests/install"
)

// RecordName is the ConfigMap, in the control plane's namespace, where an
// install records what it installed: the bundle, the registry and every
// pinned image. audit and uninstall read it.
const RecordName = "meshpack-install"

// Record is what an install left in RecordName.
type Record struct {
	Bundle    string   `json:"bundle"`
	Istio     string   `json:"istio"`
	Profile   string   `json:"profile"`
	Registry  string   `json:"registry"`
	PathMode  string   `json:"pathMode"`
	Namespace string   `json:"namespace"`
	Releases  []string `json:"releases"` // "NAMESPACE/RELEASE", in install order
	Images    []string `json:"images"`
	Installed string   `json:"installed"`
	// Phase is the adoption phase set last (empty before the first).
	Phase string `json:"phase,omitempty"`
	// Waypoints are the ambient namespaces with a waypoint (traffic phase).
	Waypoints []string `json:"waypoints,omitempty"`
	// Revision is the istiod revision in charge ("" = revision-less, a
	// plain install). During a canary upgrade Canary is the new revision,
	// OldRevision the one it replaces, and Images the pinned images of
	// both (OldImages, CanaryImages each's own).
	Revision     string   `json:"revision,omitempty"`
	Canary       string   `json:"canary,omitempty"`
	OldRevision  string   `json:"oldRevision,omitempty"`
	OldImages    []string `json:"oldImages,omitempty"`
	CanaryImages []string `json:"canaryImages,omitempty"`
	// Tags maps each revision tag meshpack moved to its revision.
	Tags map[string]string `json:"tags,omitempty"`
}

// tagMap is a copy of r.Tags, never nil.
func (r Record) tagMap() map[string]string {
	out := map[string]string{}
	for k, v := range r.Tags {
		out[k] = v
	}
	return out
}

// joinTags stores tags as sorted "TAG=REVISION" lines.
func joinTags(tags map[string]string) string {
	var lines []string
	for t, rev := range tags {
		lines = append(lines, t+"="+rev)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func splitTags(s string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if t, rev, ok := strings.Cut(l, "="); ok {
			out[t] = rev
		}
	}
	return out
}

func recordOf(p *install.Plan) Record {
	r := Record{Bundle: p.BundleID, Istio: p.Istio, Profile: p.Profile, Registry: p.Registry, PathMode: p.PathMode,
		Namespace: p.Namespace, Images: p.Pinned(), Installed: time.Now().UTC().Format(time.RFC3339)}
	for _, s := range p.Steps {
		if s.Release != "" {
			r.Releases = append(r.Releases, s.Namespace+"/"+s.Release)
		}
	}
	return r
}

// writeRecord creates or replaces the record of p, keeping the phase,
// waypoints, revision and tags of old, the record read before the install
// (the zero Record when there was none).
func writeRecord(ctx context.Context, c *conn, p *install.Plan, old Record) error {
	r := recordOf(p)
	r.Phase, r.Waypoints, r.Revision, r.Tags = old.Phase, old.Waypoints, old.Revision, old.Tags
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: RecordName, Namespace: p.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager}},
		Data: map[string]string{
			"bundle": r.Bundle, "istio": r.Istio, "profile": r.Profile, "registry": r.Registry, "pathMode": r.PathMode,
			"namespace": r.Namespace, "releases": strings.Join(r.Releases, "\n"), "images": strings.Join(r.Images, "\n"), "installed": r.Installed,
			"phase": r.Phase, "waypoints": strings.Join(r.Waypoints, "\n"), "revision": r.Revision, "tags": joinTags(r.Tags),
		},
	}
	cms := c.typed.CoreV1().ConfigMaps(p.Namespace)
	_, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
	}
	if err != nil {
		return fmt.Errorf("recording the install in ConfigMap %s/%s: %w", p.Namespace, RecordName, err)
	}
	return nil
}

// readRecord reads the record in namespace; found is false when there is none.
func readRecord(ctx context.Context, c *conn, namespace string) (Record, bool, error) {
	cm, err := c.typed.CoreV1().ConfigMaps(namespace).Get(ctx, RecordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("reading ConfigMap %s/%s: %w", namespace, RecordName, err)
	}
	d := cm.Data
	lines := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	return Record{Bundle: d["bundle"], Istio: d["istio"], Profile: d["profile"], Registry: d["registry"], PathMode: d["pathMode"],
		Namespace: d["namespace"], Releases: lines(d["releases"]), Images: lines(d["images"]), Installed: d["installed"],
		Phase: d["phase"], Waypoints: lines(d["waypoints"]),
		Revision: d["revision"], Canary: d["canary"], OldRevision: d["oldRevision"], OldImages: lines(d["oldImages"]),
		CanaryImages: lines(d["canaryImages"]), Tags: splitTags(d["tags"])}, true, nil
}

// updateRecord sets keys of the record's data, leaving the others.
func updateRecord(ctx context.Context, c *conn, namespace string, data map[string]string) error {
	patch, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	if _, err := c.typed.CoreV1().ConfigMaps(namespace).Patch(ctx, RecordName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("updating ConfigMap %s/%s: %w", namespace, RecordName, err)
	}
	return nil
}

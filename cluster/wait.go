package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lattice-mesh/meshpack/manifests/render"
)

// workload is a Deployment, DaemonSet or StatefulSet a release created.
type workload struct {
	Kind, Namespace, Name string
}

func (w workload) String() string { return w.Kind + " " + w.Namespace + "/" + w.Name }

// workloadsOf lists the workloads of a release manifest; objects without a
// namespace are in the release's.
func workloadsOf(manifest []byte, namespace string) ([]workload, error) {
	objs, err := render.ParseObjects(string(manifest))
	if err != nil {
		return nil, err
	}
	var out []workload
	for _, o := range objs {
		switch o.Kind() {
		case "Deployment", "DaemonSet", "StatefulSet":
			ns, _ := o.Data["metadata"].(map[string]any)["namespace"].(string)
			if ns == "" {
				ns = namespace
			}
			out = append(out, workload{Kind: o.Kind(), Namespace: ns, Name: o.Name()})
		}
	}
	return out, nil
}

// TimeoutError is a wait that ran out of time; Pending says what each
// workload still lacked.
type TimeoutError struct {
	Timeout time.Duration
	Pending []string
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("not rolled out after %s:\n  - %s\n(the release is applied; inspect the workloads with kubectl describe, then re-run the same command: it continues)", e.Timeout, strings.Join(e.Pending, "\n  - "))
}

const notChecked = "not checked yet"

// waitRolledOut polls until every workload is rolled out: its controller
// has seen the newest generation and every replica is updated and
// available (DaemonSets: on every node they are scheduled to).
func waitRolledOut(ctx context.Context, c *conn, ws []workload, timeout time.Duration) error {
	pending := map[workload]string{}
	for _, w := range ws {
		pending[w] = notChecked
	}
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for w := range pending {
			why, err := notReady(ctx, c, w)
			switch {
			case apierrors.IsNotFound(err):
				return false, err // deleted under us: waiting cannot help
			case err != nil:
				// A transient API error (or the client's rate limiter at
				// the deadline): keep waiting, and say so if time runs out.
				if pending[w] == notChecked {
					pending[w] = "cannot be read: " + err.Error()
				}
				continue
			}
			if why == "" {
				delete(pending, w)
			} else {
				pending[w] = why
			}
		}
		return len(pending) == 0, nil
	})
	if len(pending) == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // interrupted
	}
	if err != nil && !wait.Interrupted(err) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var left []string
	for w, why := range pending {
		left = append(left, w.String()+": "+why)
	}
	sort.Strings(left)
	return &TimeoutError{Timeout: timeout, Pending: left}
}

// notReady says why w is not rolled out yet, or "" when it is.
func notReady(ctx context.Context, c *conn, w workload) (string, error) {
	get := metav1.GetOptions{}
	switch w.Kind {
	case "Deployment":
		d, err := c.typed.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, get)
		if err != nil {
			return "", fmt.Errorf("%s: %w", w, err)
		}
		return deploymentNotReady(d), nil
	case "DaemonSet":
		d, err := c.typed.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, get)
		if err != nil {
			return "", fmt.Errorf("%s: %w", w, err)
		}
		s := d.Status
		switch {
		case s.ObservedGeneration < d.Generation:
			return fmt.Sprintf("generation %d not observed yet (status has %d)", d.Generation, s.ObservedGeneration), nil
		case s.UpdatedNumberScheduled < s.DesiredNumberScheduled || s.NumberAvailable < s.DesiredNumberScheduled:
			return fmt.Sprintf("%d of %d pods updated, %d available", s.UpdatedNumberScheduled, s.DesiredNumberScheduled, s.NumberAvailable), nil
		}
		return "", nil
	case "StatefulSet":
		d, err := c.typed.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, get)
		if err != nil {
			return "", fmt.Errorf("%s: %w", w, err)
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		switch {
		case s.ObservedGeneration < d.Generation:
			return fmt.Sprintf("generation %d not observed yet (status has %d)", d.Generation, s.ObservedGeneration), nil
		case s.UpdatedReplicas < want || s.AvailableReplicas < want:
			return fmt.Sprintf("%d of %d replicas updated, %d available", s.UpdatedReplicas, want, s.AvailableReplicas), nil
		}
		return "", nil
	}
	return "", nil
}

func deploymentNotReady(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.ObservedGeneration < d.Generation:
		return fmt.Sprintf("generation %d not observed yet (status has %d)", d.Generation, s.ObservedGeneration)
	case s.UpdatedReplicas < want:
		return fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)
	case s.AvailableReplicas < want:
		return fmt.Sprintf("%d of %d replicas available", s.AvailableReplicas, want)
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("%d old replicas still terminating", s.Replicas-s.UpdatedReplicas)
	}
	return ""
}

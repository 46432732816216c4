// Package cluster applies an install plan (manifests/install) to a real
// Kubernetes cluster and looks after it there: preflight, install and
// in-place upgrade in Istio's documented order, the wait for rollout,
// uninstall, and the audit of every image the mesh runs. Charts go through
// the Helm SDK in process, the Gateway API CRDs through server-side apply.
package cluster

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"helm.sh/helm/v3/pkg/action"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Kube says which cluster to talk to, as kubectl and helm spell it.
type Kube struct {
	// Kubeconfig is a kubeconfig file; empty follows $KUBECONFIG, then
	// ~/.kube/config (in-cluster config when neither exists).
	Kubeconfig string
	// Context is a context of the kubeconfig; empty is its current one.
	Context string
}

// ErrUnreachable means the Kubernetes API server did not answer (wrong
// kubeconfig or context, server down, credentials refused).
var ErrUnreachable = errors.New("the Kubernetes API server is not reachable")

var warnOnce sync.Once

// FieldManager is meshpack's name in server-side apply and managed fields.
const FieldManager = "meshpack"

// conn is one connection to a cluster: typed, dynamic and Helm clients.
type conn struct {
	kube    Kube
	rest    *rest.Config
	typed   kubernetes.Interface
	dynamic dynamic.Interface

	mu   sync.Mutex
	helm map[string]*action.Configuration // by namespace
}

func (k Kube) flags(namespace string) *genericclioptions.ConfigFlags {
	f := genericclioptions.NewConfigFlags(false)
	if k.Kubeconfig != "" {
		f.KubeConfig = &k.Kubeconfig
	}
	if k.Context != "" {
		f.Context = &k.Context
	}
	if namespace != "" {
		f.Namespace = &namespace
	}
	return f
}

// ErrNoKubeconfig means no kubeconfig was named or found and meshpack
// does not run inside a cluster.
var ErrNoKubeconfig = errors.New("no kubeconfig: none given, $KUBECONFIG is empty, ~/.kube/config does not exist, and this is not a pod in a cluster")

// connect builds the clients of k; nothing is sent to the cluster yet.
func (k Kube) connect() (*conn, error) {
	if k.Kubeconfig == "" && os.Getenv("KUBECONFIG") == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		if _, err := os.Stat(clientcmd.RecommendedHomeFile); err != nil {
			return nil, ErrNoKubeconfig
		}
	}
	rc, err := k.flags("").ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 50, 100
	// The API server's deprecation warnings, once each, as kubectl prints
	// them (client-go's default logs every one through klog).
	warnOnce.Do(func() {
		rest.SetDefaultWarningHandler(rest.NewWarningWriter(os.Stderr, rest.WarningWriterOptions{Deduplicate: true}))
	})
	typed, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	return &conn{kube: k, rest: rc, typed: typed, dynamic: dyn, helm: map[string]*action.Configuration{}}, nil
}

// open connects and asks the server its version: a wrong kubeconfig or an
// unreachable server fails here, before anything else.
func (k Kube) open() (*conn, error) {
	c, err := k.connect()
	if err != nil {
		return nil, err
	}
	if _, err := c.serverVersion(); err != nil {
		return nil, err
	}
	return c, nil
}

// serverVersion asks the API server its version: the first request of
// every command, so a wrong kubeconfig fails here, clearly.
func (c *conn) serverVersion() (string, error) {
	v, err := c.typed.Discovery().ServerVersion()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrUnreachable, c.rest.Host, err)
	}
	return v.GitVersion, nil
}

// helmConfig is the Helm action configuration for releases in namespace
// (release records are Secrets there, as the helm CLI keeps them).
func (c *conn) helmConfig(namespace string) (*action.Configuration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.helm[namespace]; ok {
		return cfg, nil
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(c.kube.flags(namespace), namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("helm for namespace %s: %w", namespace, err)
	}
	c.helm[namespace] = cfg
	return cfg, nil
}

package main

import (
	"github.com/spf13/pflag"

	"github.com/lattice-mesh/meshpack/cluster"
	"github.com/lattice-mesh/meshpack/manifests/install"
)

// kubeFlags are the cluster flags, spelled as kubectl and helm spell them.
type kubeFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (f *kubeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use (default its current context)")
	fs.StringVarP(&f.namespace, "namespace", "n", install.DefaultNamespace, "namespace of the Istio control plane and Kiali")
}

func (f *kubeFlags) kube() cluster.Kube {
	return cluster.Kube{Kubeconfig: f.kubeconfig, Context: f.context}
}

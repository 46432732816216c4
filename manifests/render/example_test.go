package render_test

import (
	"fmt"

	"github.com/lattice-mesh/meshpack/manifests/render"
)

func ExampleDiscoverIstioImages() {
	charts, err := render.StampIstioCharts("../../testdata/charts/istio-1.30.3",
		[]string{"base", "istiod", "cni", "ztunnel"}, "1.30.3", "registry.istio.io/release")
	if err != nil {
		fmt.Println(err)
		return
	}
	imgs, err := render.DiscoverIstioImages(charts, render.IstioRequest{Version: "1.30.3", Hub: "docker.io/istio", Profile: "ambient"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, img := range imgs {
		fmt.Println(img.Reference, img.Origin)
	}
	// Output:
	// docker.io/istio/install-cni:1.30.3-distroless rendered:cni/templates/daemonset.yaml
	// docker.io/istio/pilot:1.30.3-distroless rendered:istiod/templates/deployment.yaml
	// docker.io/istio/proxyv2:1.30.3-distroless injected:global.proxy.image
	// docker.io/istio/ztunnel:1.30.3-distroless rendered:ztunnel/templates/daemonset.yaml
}

func ExampleValuesFor() {
	vals := render.ValuesFor("ztunnel", render.IstioRequest{Version: "1.30.3", Hub: "docker.io/istio", Profile: "ambient", Variant: "default"})
	fmt.Println(vals)
	// Output: map[hub:docker.io/istio profile:ambient tag:1.30.3 variant:]
}

package manifests_test

import (
	"fmt"
	"strings"

	"github.com/lattice-mesh/meshpack/manifests"
)

func ExampleLoadSpec() {
	spec, err := manifests.LoadSpec(strings.NewReader(`
apiVersion: meshpack.lattice.dev/v1alpha1
kind: MeshBundle
istio: {version: "1.30", profile: ambient}
kiali: {enabled: true}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	spec.Normalize()
	fmt.Println(spec.Istio.Profile, spec.Variants(), spec.GatewayAPIEnabled(), spec.Validate())
	// Output: ambient [distroless] true <nil>
}

func ExampleLoadSpec_unknownField() {
	_, err := manifests.LoadSpec(strings.NewReader("istio:\n  version: \"1.30\"\n  profil: ambient\n"))
	fmt.Println(err)
	// Output: spec: istio.profil: unknown field (line 3)
}

func ExampleCatalog_ResolveIstio() {
	cat, err := manifests.DefaultCatalog()
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := cat.ResolveIstio("1.30")
	kiali, _ := cat.KialiFor(res.Version, "")
	gw, _ := cat.GatewayAPIFor(res.Version, "", "")
	fmt.Println(res.Version, kiali.Version, gw.Version, res.Release.Kubernetes.Min, res.Release.Kubernetes.Max)
	for _, v := range cat.CheckCompatibility(manifests.ResolvedSet{Istio: res.Version, Kiali: "2.12.0", GatewayAPI: gw.Version}) {
		fmt.Println(v.Message)
	}
	// Output:
	// 1.30.3 2.26.0 v1.5.1 1.32 1.36
	// kiali 2.12.0 is outside the range >=2.22.0 <2.30.0 supported by istio 1.30.3
}

func ExampleCatalog_ExpectedImages() {
	cat, err := manifests.DefaultCatalog()
	if err != nil {
		fmt.Println(err)
		return
	}
	imgs, _ := cat.ExpectedImages("1.30.3", manifests.ImageOptions{Profile: manifests.ProfileAmbient})
	for _, img := range imgs {
		fmt.Println(img.Reference, img.SignedBy)
	}
	// Output:
	// docker.io/istio/install-cni:1.30.3-distroless istio-release
	// docker.io/istio/pilot:1.30.3-distroless istio-release
	// docker.io/istio/proxyv2:1.30.3-distroless istio-release
	// docker.io/istio/ztunnel:1.30.3-distroless istio-release
}

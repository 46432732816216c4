package upstream_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/lattice-mesh/meshpack/hack/upstream"
)

func ExampleStart() {
	u, err := upstream.Start(context.Background(), upstream.Options{
		Platforms:  []string{"linux/amd64"},
		LayerScale: 0.1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer u.Close()

	pilot, _ := u.Image("docker.io/istio/pilot:1.30.3-distroless")
	fmt.Println(pilot.Platforms[0].Platform, pilot.Signed)
	for _, m := range u.Mirrors() {
		origin, _, _ := strings.Cut(m, "=")
		fmt.Println("--mirror", origin+"=…")
	}
	// Output:
	// linux/amd64 true
	// --mirror docker.io=…
	// --mirror gcr.io=…
	// --mirror ghcr.io=…
	// --mirror harbor.example.com=…
	// --mirror https://downloads.example.com=…
	// --mirror https://github.com/istio/istio/releases/download=…
	// --mirror https://github.com/kubernetes-sigs/gateway-api/releases/download=…
	// --mirror https://istio-release.storage.googleapis.com/charts=…
	// --mirror https://kiali.org/helm-charts=…
	// --mirror https://raw.githubusercontent.com/istio/istio=…
	// --mirror quay.io=…
	// --mirror registry.istio.io=…
}

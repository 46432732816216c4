package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

func ExampleNew() {
	srv, err := registry.New(context.Background(), registry.Config{}) // in memory
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/v2/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Docker-Distribution-API-Version"))
	// Output: 200 OK registry/2.0
}

package bundle

import (
	"context"
	"testing"

	"oras.land/oras-go/v2"
)

// copyGraph copies every root of the fixture from src to dst with oras-go.
func copyGraph(t *testing.T, src *Reader, dst *Writer, fx *fixture) {
	t.Helper()
	ctx := context.Background()
	for _, m := range fx.index.Manifests {
		root, err := src.Resolve(ctx, m.Annotations["org.opencontainers.image.ref.name"])
		if err != nil {
			t.Fatal(err)
		}
		if err := oras.CopyGraph(ctx, src, dst, root, oras.CopyGraphOptions{Concurrency: 3}); err != nil {
			t.Fatalf("CopyGraph(%s): %v", root.Digest, err)
		}
	}
}

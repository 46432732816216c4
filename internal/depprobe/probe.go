// Package depprobe pins the project's direct dependencies in go.mod while the
// packages that use them are being written. Delete it once every one is imported.
package depprobe

import (
	_ "github.com/Masterminds/semver/v3"
	_ "github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/opencontainers/go-digest"
	_ "github.com/opencontainers/image-spec/specs-go/v1"
	_ "github.com/sigstore/cosign/v2/pkg/cosign"
	_ "github.com/spf13/cobra"
	_ "github.com/vbauerster/mpb/v8"
	_ "golang.org/x/sync/errgroup"
	_ "helm.sh/helm/v3/pkg/chart/loader"
	_ "oras.land/oras-go/v2"
	_ "sigs.k8s.io/yaml"
)

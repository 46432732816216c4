#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine: the Debian
# packages (zstd, skopeo, docker-registry as an independent registry) and the
# real client CLIs built from the Go module proxy into $MESHPACK_TOOLS_DIR
# (default ~/.cache/meshpack/tools/bin: cosign, helm, crane). Each step is
# skipped when already done, so it is cheap to re-run. Prints nothing on
# success but a line per installed tool.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MESHPACK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshpack/tools/bin}"
mkdir -p "$BIN"

need_apt=()
command -v zstd >/dev/null || need_apt+=(zstd)
command -v skopeo >/dev/null || need_apt+=(skopeo)
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v sha256sum >/dev/null || need_apt+=(coreutils)
command -v tar >/dev/null || need_apt+=(tar)
command -v openssl >/dev/null || need_apt+=(openssl)   # hack/kube-apiserver.sh: test PKI
command -v curl >/dev/null || need_apt+=(curl)         # hack/kube-apiserver.sh: readiness
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "test-setup: apt-get install ${need_apt[*]}" >&2
  # Debian starts services from maintainer scripts; there is no init here and
  # the tests start their own registry on loopback.
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# go_tool NAME MODULE@VERSION: build once into $BIN, keyed by version.
go_tool() {
  local name=$1 pkg=$2 stamp="$BIN/.$1.version"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then
    return
  fi
  echo "test-setup: go install $pkg" >&2
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$pkg"
  echo "$pkg" >"$stamp"
}
go_tool cosign github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
go_tool helm helm.sh/helm/v3/cmd/helm@v3.22.0
go_tool crane github.com/google/go-containerregistry/cmd/crane@v0.22.1

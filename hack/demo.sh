#!/usr/bin/env bash
# make demo: the whole connected-side → enclave-side journey, offline, on the
# embedded defaults. A fixture "internet" (hack/fixture-upstream: a registry
# with Istio/Kiali images under their real names, signed by a fixture Istio
# key, plus the real Istio/Kiali charts and Gateway API CRDs over HTTP) runs
# on 127.0.0.1; meshpack reaches it through --mirror, exactly as a user
# reaches an Artifactory/Nexus pull-through cache.
set -euo pipefail
cd "$(dirname "$0")/.."
MESHPACK=${MESHPACK:-$PWD/bin/meshpack}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshpack-demo.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "start the offline fixture upstream (stand-in for docker.io, quay.io, the Helm repos, GitHub)"
go build -o "$WORK/fixture-upstream" ./hack/fixture-upstream
"$WORK/fixture-upstream" --state "$WORK/upstream.json" --sign-key-dir "$WORK/istio-key" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do [ -s "$WORK/upstream.json" ] && break; sleep 0.2; done
[ -s "$WORK/upstream.json" ] || { cat "$WORK/upstream.log"; echo "fixture upstream did not start" >&2; exit 1; }
MIRRORS=()
while IFS= read -r m; do MIRRORS+=(--mirror "$m"); done < <(sed -n 's/^--mirror //p' "$WORK/upstream.log")
sed -n 's/^--mirror /   --mirror /p' "$WORK/upstream.log"

step "the version sets meshpack knows"
run "$MESHPACK" versions

step "a signing key for the bundle (cosign format)"
export COSIGN_PASSWORD=demo
run "$MESHPACK" keys generate --dir "$WORK/keys"

step "resolve Istio 1.30.3 ambient + Kiali + Gateway API to exact digests"
run "$MESHPACK" resolve "$WORK/mesh.lock.yaml" --istio 1.30.3 --profile ambient --kiali "${MIRRORS[@]}"

step "create the bundle from the lock: verify upstream signatures, pull, sign"
run "$MESHPACK" bundle create "$WORK/mesh.tar.zst" --lock "$WORK/mesh.lock.yaml" "${MIRRORS[@]}" \
  --upstream-key istio-release="$WORK/istio-key/cosign.pub" \
  --key "$WORK/keys/cosign.key" --split 8MiB
ls -l "$WORK" | grep mesh.tar.zst

step "inspect it"
run "$MESHPACK" bundle inspect "$WORK/mesh.tar.zst.000"

step "any tar reads it"
cat "$WORK"/mesh.tar.zst.[0-9][0-9][0-9] > "$WORK/joined.tar.zst"
run tar --zstd -tf "$WORK/joined.tar.zst" | sed -n "1,8p"; echo "   …"

step "verify it offline: every blob, the BOM, every signature"
run "$MESHPACK" bundle verify --key "$WORK/keys/cosign.pub" "$WORK/mesh.tar.zst.000"

step "verification fails closed: without --key (or an explicit --allow-unsigned) nothing is trusted"
printf '$ %s\n' "$MESHPACK bundle verify $WORK/mesh.tar.zst.000"
if "$MESHPACK" bundle verify "$WORK/mesh.tar.zst.000" 2>"$WORK/nokey.err"; then
  echo "verify without --key succeeded; it must refuse" >&2
  exit 1
fi
cat "$WORK/nokey.err"

step "inside the enclave: start the embedded registry and load the bundle"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$MESHPACK" registry serve --root "$WORK/registry" --addr "127.0.0.1:$PORT" >"$WORK/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
run "$MESHPACK" bundle load "$WORK/mesh.tar.zst.000" --registry "127.0.0.1:$PORT/mesh" --plain-http \
  --key "$WORK/keys/cosign.pub"
step "load again: everything is already there"
run "$MESHPACK" bundle load "$WORK/mesh.tar.zst.000" --registry "127.0.0.1:$PORT/mesh" --plain-http \
  --key "$WORK/keys/cosign.pub"
run curl -fs "http://127.0.0.1:$PORT/v2/_catalog"; echo

DIGEST=$(curl -fsI -H 'Accept: application/vnd.oci.image.index.v1+json' \
  "http://127.0.0.1:$PORT/v2/mesh/istio/pilot/manifests/1.30.3-distroless" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
if command -v cosign >/dev/null; then
  step "cosign (the real CLI) checks the loaded image against the bundle key, offline"
  # A path for SIGSTORE_REKOR_PUBLIC_KEY stops cosign's TUF lookup; it is never read with --insecure-ignore-tlog.
  run env SIGSTORE_REKOR_PUBLIC_KEY=/dev/null TUF_ROOT="$WORK/tuf" cosign verify --key "$WORK/keys/cosign.pub" \
    --insecure-ignore-tlog --allow-insecure-registry --allow-http-registry "127.0.0.1:$PORT/mesh/istio/pilot@$DIGEST" >/dev/null
fi
if command -v helm >/dev/null; then
  step "helm pulls the chart from the registry"
  mkdir -p "$WORK/charts"
  run helm pull "oci://127.0.0.1:$PORT/mesh/charts/istiod" --version 1.30.3 --plain-http -d "$WORK/charts"
  ls -l "$WORK/charts"
fi

step "render the install from the bundle: every image pinned by digest to the internal registry"
run "$MESHPACK" install --bundle "$WORK/mesh.tar.zst.000" --registry "127.0.0.1:$PORT/mesh" \
  --key "$WORK/keys/cosign.pub" --render "$WORK/rendered"
echo "image: lines in the render (busybox:1.28 stands only in istiod's opt-in grpc-simple injection template):"
grep -hE '^ +image: ' "$WORK/rendered"/*.yaml | grep -v '{{' | sed 's/^ *image: *//; s/"//g' | sort -u
if bash hack/kube-apiserver.sh built; then
  step "install into a real kube-apiserver (built for make test; it has no kubelet, so --wait=false)"
  bash hack/kube-apiserver.sh up "$WORK/kapi" 2>/dev/null
  PIDS_KAPI="$WORK/kapi"
  trap 'bash hack/kube-apiserver.sh down "$PIDS_KAPI" || true; cleanup' EXIT
  run "$MESHPACK" install --bundle "$WORK/mesh.tar.zst.000" --registry "127.0.0.1:$PORT/mesh" \
    --key "$WORK/keys/cosign.pub" --kubeconfig "$WORK/kapi/kubeconfig" --wait=false
  step "audit: every image of the mesh pinned by digest to the internal registry"
  run "$MESHPACK" audit --kubeconfig "$WORK/kapi/kubeconfig"
  step "uninstall (CRDs stay)"
  run "$MESHPACK" uninstall --kubeconfig "$WORK/kapi/kubeconfig"
else
  echo "(no test kube-apiserver built on this machine: make test builds it once; the demo then also installs)"
fi
step "done"

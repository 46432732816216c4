#!/usr/bin/env bash
# A real S3-compatible object store (SeaweedFS `weed mini`) on loopback for
# the tests of `registry serve --config` with Distribution's s3 driver:
# nothing downloaded but Go modules.
#
#   hack/seaweedfs.sh build          build once per machine (cached), print the binary
#   hack/seaweedfs.sh built          exit 0 when the binary is built (nothing is built)
#   hack/seaweedfs.sh up DIR         start one; writes DIR/env (S3_ENDPOINT, S3_BUCKET,
#                                    S3_ACCESS_KEY, S3_SECRET_KEY) and DIR/pid
#   hack/seaweedfs.sh down DIR       stop the one started in DIR and remove DIR
#
# SeaweedFS's go.mod has a replace directive, so `go install …@version`
# refuses it: the build copies the module's source out of the module cache
# and builds it as the main module. A cold build takes ~15 min on 2 cores.
#
# Environment: MESHPACK_SEAWEEDFS_VERSION (a module version of
# github.com/seaweedfs/seaweedfs), MESHPACK_SEAWEEDFS_CACHE (default
# ~/.cache/meshpack/seaweed).
set -euo pipefail

VERSION="${MESHPACK_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
CACHE="${MESHPACK_SEAWEEDFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshpack/seaweed}"
BIN="$CACHE/$VERSION/weed"

say() { echo "seaweedfs.sh: $*" >&2; }
die() { say "$*"; exit 1; }

build() {
  mkdir -p "$CACHE/$VERSION"
  exec 9>"$CACHE/.build.lock"
  flock 9
  if [ ! -x "$BIN" ]; then
    export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
    local dir src="$CACHE/$VERSION/src"
    dir="$(cd /tmp && go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
    [ -d "$dir" ] || die "cannot download github.com/seaweedfs/seaweedfs@$VERSION from the module proxy"
    rm -rf "$src" && mkdir -p "$src" && cp -r "$dir/." "$src/" && chmod -R u+w "$src"
    say "building SeaweedFS $VERSION (once per machine; ~15 min cold on 2 cores)"
    (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" ./weed)
    mv "$BIN.tmp" "$BIN"
    rm -rf "$src"
  fi
  echo "$BIN"
}

free_port() { # a loopback port p with p+10000 free too (weed's gRPC default)
  python3 -c '
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p + 10000 > 65535: continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000))
    except OSError:
        continue
    print(p); break'
}

up() {
  local dir="$1" bin master volume filer s3 i
  [ ! -s "$dir/pid" ] || die "$dir/pid exists: a server already runs there (hack/seaweedfs.sh down $dir)"
  bin="$(build)"
  mkdir -p "$dir/data"; dir="$(cd "$dir" && pwd)"
  local key secret
  key="meshpack$(openssl rand -hex 4)"; secret="$(openssl rand -hex 20)"
  cat >"$dir/s3.json" <<EOF
{"identities": [{"name": "meshpack", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
  master=$(free_port); volume=$(free_port); filer=$(free_port); s3=$(free_port)
  setsid "$bin" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$master" -volume.port="$volume" -filer.port="$filer" -s3.port="$s3" \
    -master.port.grpc=$((master + 10000)) -volume.port.grpc=$((volume + 10000)) \
    -filer.port.grpc=$((filer + 10000)) -s3.port.grpc=$((s3 + 10000)) \
    -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false \
    -s3.config="$dir/s3.json" -bucket=meshpack >"$dir/weed.log" 2>&1 </dev/null &
  echo "$!" >"$dir/pid"
  for i in $(seq 1 600); do
    # Ready when the bucket exists: an unauthenticated request for it gets
    # AccessDenied (not NoSuchBucket and not a refused connection).
    if curl -s "http://127.0.0.1:$s3/meshpack" 2>/dev/null | grep -q AccessDenied; then
      break
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -20 "$dir/weed.log" >&2; die "weed exited"; }
    sleep 0.1
  done
  [ "$i" -lt 600 ] || { tail -20 "$dir/weed.log" >&2; die "SeaweedFS S3 not ready on 127.0.0.1:$s3 after 60 s"; }
  cat >"$dir/env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$s3
S3_BUCKET=meshpack
S3_ACCESS_KEY=$key
S3_SECRET_KEY=$secret
EOF
  echo "$dir/env"
}

down() {
  local dir="$1" pid
  if [ -s "$dir/pid" ]; then
    pid="$(cat "$dir/pid")"
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
build) build ;;
built) [ -x "$BIN" ] ;;
up) up "${2:?usage: hack/seaweedfs.sh up DIR}" ;;
down) down "${2:?usage: hack/seaweedfs.sh down DIR}" ;;
*) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac

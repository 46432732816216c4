#!/usr/bin/env bash
# A real kube-apiserver + etcd on loopback for the install tests: no Docker,
# no kubelet, nothing downloaded but Go modules.
#
#   hack/kube-apiserver.sh build            build once per machine (cached), print the bin dir
#   hack/kube-apiserver.sh up DIR           start a pair; writes DIR/kubeconfig, DIR/pids, DIR/env
#   hack/kube-apiserver.sh down DIR         stop the pair started in DIR and remove DIR
#   hack/kube-apiserver.sh built            exit 0 when the binaries are built (nothing is built)
#
# The build makes a throwaway module that requires k8s.io/kubernetes and maps
# every staging module it requires at v0.0.0 to its published v0.MINOR.PATCH
# tag (kubernetes' own replace directives point into its source tree, which a
# dependent module cannot use). The version is stamped with -X so /version
# reports it: Helm checks charts' kubeVersion against it, and so does
# meshpack's preflight. Binaries live in $MESHPACK_KAPI_CACHE (default
# ~/.cache/meshpack/kapi/vVERSION/bin): a cold build takes ~10 min on 2 cores,
# later runs reuse it at once.
#
# Environment: MESHPACK_KUBE_VERSION (default 1.34.4), MESHPACK_ETCD_VERSION
# (default 3.6.8), MESHPACK_KAPI_CACHE.
set -euo pipefail

KUBE_VERSION="${MESHPACK_KUBE_VERSION:-1.34.4}"
ETCD_VERSION="${MESHPACK_ETCD_VERSION:-3.6.8}"
CACHE="${MESHPACK_KAPI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshpack/kapi}"
BIN="$CACHE/v$KUBE_VERSION/bin"

say() { echo "kube-apiserver.sh: $*" >&2; }
die() { say "$*"; exit 1; }

build() {
  mkdir -p "$BIN"
  exec 9>"$CACHE/.build.lock"
  flock 9
  export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
  # Reuse another checkout's build of the same version (the shared tools
  # directory builds into ~/.cache/kapi) rather than compiling 10 minutes.
  for other in "${XDG_CACHE_HOME:-$HOME/.cache}/kapi/v$KUBE_VERSION/bin"; do
    for b in kube-apiserver etcd; do
      if [ ! -x "$BIN/$b" ] && [ -x "$other/$b" ]; then cp "$other/$b" "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b"; fi
    done
  done
  if [ ! -x "$BIN/kube-apiserver" ]; then
    local mod="$CACHE/v$KUBE_VERSION/module" kmod staging minor
    mkdir -p "$mod"
    kmod="$(cd "$mod" && go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    [ -f "$kmod" ] || die "cannot download the go.mod of k8s.io/kubernetes@v$KUBE_VERSION from the module proxy"
    staging="v0.${KUBE_VERSION#*.}"
    {
      printf 'module meshpackkapi\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' \
        "$(awk '$1=="go"{print $2; exit}' "$kmod")" "$KUBE_VERSION"
      awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r&&$2=="v0.0.0"{print "\t" $1 " => " $1 " '"$staging"'"}' "$kmod"
      printf ')\n'
    } > "$mod/go.mod"
    say "building kube-apiserver v$KUBE_VERSION (once per machine; ~10 min cold on 2 cores)"
    (cd "$mod" && go get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" >&2)
    minor="${KUBE_VERSION#*.}"; minor="${minor%%.*}"
    local ld="-s -w" p
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=${KUBE_VERSION%%.*} -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    (cd "$mod" && go build -trimpath -ldflags "$ld" -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
    mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  fi
  if [ ! -x "$BIN/etcd" ]; then
    local emod="$CACHE/etcd-v$ETCD_VERSION"
    mkdir -p "$emod"
    printf 'module meshpacketcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > "$emod/go.mod"
    say "building etcd v$ETCD_VERSION (once per machine)"
    (cd "$emod" && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2 &&
      go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
    mv "$BIN/etcd.tmp" "$BIN/etcd"
  fi
  echo "$BIN"
}

# free_port prints a loopback TCP port nobody listens on.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 10000))
}

pki() {
  local d="$1"
  mkdir -p "$d" && cd "$d"
  key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null && chmod 600 "$1"; }
  cert() { # cert NAME SUBJECT EXTENSIONS
    key "$1.key"
    openssl req -new -key "$1.key" -subj "$2" 2>/dev/null |
      openssl x509 -req -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" -days 30 \
        -extfile <(printf '%b' "$3") -out "$1.crt" 2>/dev/null
  }
  key ca.key
  openssl req -x509 -new -key ca.key -subj /CN=meshpack-test-ca -days 30 -out ca.crt \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  cert apiserver /CN=kube-apiserver "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n"
  cert admin "/O=system:masters/CN=meshpack-test-admin" "extendedKeyUsage=clientAuth\n"
  key sa.key
  openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
  cd - >/dev/null
}

up() {
  local dir="$1" bin ec ep port i
  [ ! -s "$dir/pids" ] || die "$dir/pids exists: a server already runs there (hack/kube-apiserver.sh down $dir)"
  command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
  command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
  bin="$(build)"
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  pki "$dir/pki"
  ec=$(free_port); ep=$(free_port); port=$(free_port)
  setsid "$bin/etcd" --name meshpack --data-dir "$dir/etcd" --log-level warn --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$ec" --advertise-client-urls "http://127.0.0.1:$ec" \
    --listen-peer-urls "http://127.0.0.1:$ep" --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
    --initial-cluster "meshpack=http://127.0.0.1:$ep" >"$dir/etcd.log" 2>&1 </dev/null &
  echo "$! etcd" >"$dir/pids"
  setsid "$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$ec" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none --profiling=false \
    >"$dir/kube-apiserver.log" 2>&1 </dev/null &
  echo "$! kube-apiserver" >>"$dir/pids"
  local auth=(--cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key")
  for i in $(seq 1 600); do
    if [ "$(curl -sS --max-time 2 "${auth[@]}" "https://127.0.0.1:$port/readyz" 2>/dev/null)" = ok ] &&
      curl -fsS --max-time 2 "${auth[@]}" "https://127.0.0.1:$port/api/v1/namespaces/default" >/dev/null 2>&1; then
      break
    fi
    while read -r pid name; do
      kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/$name.log" >&2; down "$dir" --keep; die "$name exited; log in $dir/$name.log"; }
    done <"$dir/pids"
    [ "$i" -lt 600 ] || { down "$dir" --keep; die "kube-apiserver not ready after 120 s; log in $dir"; }
    sleep 0.2
  done
  b64() { base64 -w0 <"$1"; }
  (umask 077; cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: meshpack-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(b64 "$dir/pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$dir/pki/admin.crt")
    client-key-data: $(b64 "$dir/pki/admin.key")
contexts:
- name: meshpack-test
  context: {cluster: meshpack-test, user: admin}
current-context: meshpack-test
EOF
)
  echo "export MESHPACK_TEST_KUBECONFIG=$dir/kubeconfig" >"$dir/env"
  say "ready: https://127.0.0.1:$port (kubeconfig $dir/kubeconfig)"
}

down() {
  local dir="$1" pid name
  [ -f "$dir/pids" ] || return 0
  # kube-apiserver first, then etcd; signal a PID only while it is still that program.
  for want in kube-apiserver etcd; do
    while read -r pid name; do
      [ "$name" = "$want" ] || continue
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
    done <"$dir/pids"
  done
  rm -f "$dir/pids"
  [ "${2:-}" = --keep ] || rm -rf "$dir"
}

case "${1:-}" in
build) build ;;
built) [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ] ;;
up) [ $# -eq 2 ] || die "usage: $0 up DIR"; up "$2" ;;
down) [ $# -ge 2 ] || die "usage: $0 down DIR [--keep]"; down "$2" "${3:-}" ;;
*) die "usage: $0 build | built | up DIR | down DIR" ;;
esac

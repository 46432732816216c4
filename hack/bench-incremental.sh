#!/usr/bin/env bash
# hack/bench-incremental.sh — part of `make bench`: measures, in one run,
#  1. the incremental bundle from Istio 1.30.3 to its next patch 1.30.4 (the
#     fixture's next patch shares the minor's base and runtime layers and
#     changes ~10 % of the layer bytes), made --since the base bundle and
#     --since an inventory of a registry loaded with the base, against the
#     full next-patch bundle and the bytes that are really new (bundle diff);
#  2. re-loading a bundle whose content is all present (the common "did it
#     all arrive?" re-run) into registry serve with and without --htpasswd.
# It writes the section between the incremental markers of BENCHMARKS.md
# (appending it when missing). Nothing in it is typed by hand.
#
# Environment: BENCH_DELTA_SIZE (default 1GiB), BENCH_RUNS (default 3),
# BENCH_DIR (default .cache/bench), BENCH_OUT (default BENCHMARKS.md),
# MESHPACK (default bin/meshpack).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/bench-section.sh
SIZE=${BENCH_DELTA_SIZE:-1GiB}
RUNS=${BENCH_RUNS:-3}
DIR=${BENCH_DIR:-.cache/bench}/incremental
OUT=${BENCH_OUT:-BENCHMARKS.md}
MESHPACK=${MESHPACK:-bin/meshpack}
MESHPACK=$(realpath "$MESHPACK")
log() { echo "bench-incremental: $*" >&2; }
die() { log "$*"; exit 1; }
[ -x "$MESHPACK" ] || die "$MESHPACK missing: run make bench (it builds bin/meshpack)"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"

log "starting the fixture upstream with Istio 1.30.3 and 1.30.4 ($SIZE of unique layers)"
go build -o "$DIR/fixture-upstream" ./hack/fixture-upstream
"$DIR/fixture-upstream" --state "$DIR/upstream.json" --size "$SIZE" --istio 1.30.3,1.30.4 --root "$DIR/upstream" \
  --platform linux/amd64,linux/arm64 --sign-key-dir "$DIR/istio-key" >"$DIR/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 2400); do [ -s "$DIR/upstream.json" ] && break; sleep 0.5; done
[ -s "$DIR/upstream.json" ] || { tail "$DIR/upstream.log"; die "fixture upstream not ready"; }
MIRRORS=()
while IFS= read -r m; do MIRRORS+=(--mirror "$m"); done < <(sed -n 's/^--mirror //p' "$DIR/upstream.log")

export COSIGN_PASSWORD=bench
"$MESHPACK" keys generate --dir "$DIR/keys" >/dev/null 2>&1
create() { # create OUT VERSION [EXTRA...]
  local out=$1 v=$2
  shift 2
  "$MESHPACK" -q bundle create "$DIR/$out" --istio "$v" --profile ambient --kiali --key "$DIR/keys/cosign.key" \
    --upstream-key "istio-release=$DIR/istio-key/cosign.pub" "${MIRRORS[@]}" "$@" >/dev/null
}
log "creating the 1.30.3 base, the full 1.30.4 bundle and the delta from the base bundle"
create base.tar.zst 1.30.3
create next-full.tar.zst 1.30.4
create delta-from-bundle.tar.zst 1.30.4 --since "$DIR/base.tar.zst"
"$MESHPACK" bundle diff "$DIR/base.tar.zst" "$DIR/next-full.tar.zst" -o json >"$DIR/diff.json"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # serve ROOT PORT [EXTRA...]: registry serve in the background until /v2/ answers
  local root=$1 p=$2
  shift 2
  "$MESHPACK" registry serve --root "$root" --addr "127.0.0.1:$p" "$@" >"$DIR/serve-$p.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/v2/" && return 0; sleep 0.1; done
  die "registry serve on $p did not start"
}
OPEN=$(port); serve "$DIR/reg-open" "$OPEN"
go build -o "$DIR/benchtool" ./hack/benchtool
"$DIR/benchtool" htpasswd bench s3cret >"$DIR/htpasswd"
AUTH=$(port); serve "$DIR/reg-auth" "$AUTH" --htpasswd "$DIR/htpasswd"
load() { # load BUNDLE PORT [EXTRA...]
  local b=$1 p=$2
  shift 2
  "$MESHPACK" -q bundle load "$b" --registry "127.0.0.1:$p/mesh" --plain-http --key "$DIR/keys/cosign.pub" --state-dir none "$@" >/dev/null
}
log "loading the base; taking an inventory; the delta from the inventory"
load "$DIR/base.tar.zst" "$OPEN"
"$MESHPACK" registry inventory --registry "127.0.0.1:$OPEN/mesh" --plain-http >"$DIR/inventory.json"
create delta-from-inventory.tar.zst 1.30.4 --since "$DIR/inventory.json"
load "$DIR/delta-from-inventory.tar.zst" "$OPEN"

log "re-loading the base, all present, with and without --htpasswd ($RUNS runs each)"
echo s3cret | load "$DIR/base.tar.zst" "$AUTH" -u bench --password-stdin
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
reload() { # reload PORT [EXTRA...]: median wall seconds
  local p=$1 i t0 t1
  shift
  for i in $(seq 1 "$RUNS"); do
    t0=$(date +%s.%N)
    if [ "$#" -gt 0 ]; then echo s3cret | load "$DIR/base.tar.zst" "$p" "$@"; else load "$DIR/base.tar.zst" "$p"; fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
  done | median
}
T_OPEN=$(reload "$OPEN")
T_AUTH=$(reload "$AUTH" -u bench --password-stdin)

size() { stat -c %s "$DIR/$1"; }
FULL=$(size next-full.tar.zst)
DB=$(size delta-from-bundle.tar.zst)
DI=$(size delta-from-inventory.tar.zst)
NEW=$(jq -r .deltaBytes "$DIR/diff.json")
FULLBLOBS=$(jq -r .fullBytes "$DIR/diff.json")
blobbytes() { "$MESHPACK" bundle inspect "$DIR/$1" -o json | jq '[.bom.blobs[].size] | add'; }
BB=$(blobbytes delta-from-bundle.tar.zst)
BI=$(blobbytes delta-from-inventory.tar.zst)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f %%", 100 * a / b }'; }
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f×", a / b }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f MiB", a / 1048576 }'; }

section=$(cat <<EOF
<!-- incremental:begin -->
## Incremental bundles and authenticated re-loads

Command: \`bash hack/bench-incremental.sh\` (part of \`make bench\`), $(date -u +%Y-%m-%d), meshpack $("$MESHPACK" version 2>/dev/null | head -1 | sed 's/^meshpack //'),
fixture upstream \`--size $SIZE --istio 1.30.3,1.30.4\`, two platforms, ambient with Kiali. The fixture's
1.30.4 shares 1.30.3's base and runtime layers: the new application layers are the real difference.

| bundle | file size | share of the full next patch | blob bytes | vs. the bytes really new ($(mib "$NEW")) |
|---|---:|---:|---:|---:|
| full 1.30.4 | $(mib "$FULL") | 100 % | $(mib "$FULLBLOBS") | |
| delta \`--since base.tar.zst\` | $(mib "$DB") | $(pct "$DB" "$FULL") | $(mib "$BB") | $(x "$BB" "$NEW") |
| delta \`--since inventory.json\` (registry loaded with 1.30.3) | $(mib "$DI") | $(pct "$DI" "$FULL") | $(mib "$BI") | $(x "$BI" "$NEW") |

Re-load of the 1.30.3 bundle, every blob and manifest already present (median of $RUNS):

| registry serve | wall |
|---|---:|
| no auth | ${T_OPEN} s |
| \`--htpasswd\` (bcrypt; successful checks cached 60 s) | ${T_AUTH} s ($(x "$T_AUTH" "$T_OPEN")) |
<!-- incremental:end -->
EOF
)
write_section incremental "$section" "$OUT"
log "wrote the incremental section of $OUT"

#!/usr/bin/env bash
# hack/bench.sh — `make bench`: measures `meshpack bundle create` against
# oras / crane / skopeo pulling the same images into an OCI layout followed by
# `tar --zstd`, and `meshpack bundle load` against unpacking the same bundle
# with `tar --zstd -x` and pushing the layout with oras / crane / skopeo, and
# against raw parallel blob uploads (the registry's ceiling), on a generated
# two-platform workload served by the offline fixture upstream
# (hack/fixture-upstream); then writes BENCHMARKS.md from the measurements
# (hack/benchtool report). Nothing in BENCHMARKS.md is typed by hand.
#
# Environment:
#   BENCH_SIZES     workload sizes (default "1GiB 4GiB"); the first runs every
#                   tool, the others meshpack only (create, verify, dd, load)
#   BENCH_RUNS      runs per measurement, the median is reported (default 3)
#   BENCH_TOOLS     comparison tools (default "oras crane skopeo")
#   BENCH_SECTIONS  what to measure: create, load or both (default "create,load")
#   BENCH_RAW_CONC  uploads at a time of the raw blob push (default 4)
#   BENCH_DIR       work directory, on the disk being measured (default .cache/bench)
#   BENCH_OUT       markdown to write (default BENCHMARKS.md; $BENCH_DIR/BENCHMARKS.md
#                   when BENCH_SECTIONS leaves a section out)
#   MESHPACK        meshpack binary (default bin/meshpack, which `make bench` builds)
#
# Installs what it needs, idempotently: zstd, skopeo, GNU time, strace, curl
# and jq with apt; oras and crane with `go install` into $MESHPACK_TOOLS_DIR
# (default ~/.cache/meshpack/tools/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLBIN=${MESHPACK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshpack/tools/bin}
export PATH=$TOOLBIN:$PATH
SELF=$ROOT/hack/bench.sh
SIZES=(${BENCH_SIZES:-1GiB 4GiB})
RUNS=${BENCH_RUNS:-3}
TOOLS=(${BENCH_TOOLS:-oras crane skopeo})
SECTIONS=${BENCH_SECTIONS:-create,load}
RAW_CONC=${BENCH_RAW_CONC:-4}
DIR=${BENCH_DIR:-$ROOT/.cache/bench}
OUT_MD=${BENCH_OUT:-}
MESHPACK=${MESHPACK:-$ROOT/bin/meshpack}
RESULTS=$DIR/results.tsv
BT=$DIR/bin/benchtool
FIXTURE=$DIR/bin/fixture-upstream
ORAS_PKG=oras.land/oras/cmd/oras@v1.3.6
CRANE_PKG=github.com/google/go-containerregistry/cmd/crane@v0.22.1

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# want SECTION: whether BENCH_SECTIONS names SECTION.
want() { case ",$SECTIONS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# tagof REF: an OCI layout tag for REF (/ and : become _).
tagof() { local t=${1//[\/:]/_}; echo "${t:0:128}"; }

# now: seconds since the epoch, microseconds.
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---------------------------------------------------------------------------
# The timed body: `hack/bench.sh __step TOOL OUT LAYOUT STEPFILE`, run under
# /usr/bin/time. Reads BENCH_REG, BENCH_IMAGES and BENCH_MIRRORS (newline
# separated) from the environment. Ends with sync so the output is on disk.
if [ "${1:-}" = __step ]; then
  tool=$2 out=$3 l=$4 steps=$5
  mapfile -t images <<<"$BENCH_IMAGES"
  mapfile -t mirrors <<<"$BENCH_MIRRORS"
  reg=$BENCH_REG
  t0=$(now)
  case $tool in
  meshpack | meshpack-tmpfs | meshpack-readwarm)
    args=()
    for ref in "${images[@]}"; do args+=(--image "$ref"); done
    for m in "${mirrors[@]}"; do args+=(--mirror "$m"); done
    "$MESHPACK" bundle create "$out" --istio none "${args[@]}" --allow-unsigned --verify-upstream=off
    ;;
  oras)
    for ref in "${images[@]}"; do
      oras cp --from-plain-http --no-tty --to-oci-layout "$reg/$ref" "$l:$(tagof "$ref")" >/dev/null
    done
    ;;
  crane)
    refs=()
    for ref in "${images[@]}"; do refs+=("$reg/$ref"); done
    crane pull --insecure --format oci --platform all "${refs[@]}" "$l"
    ;;
  skopeo)
    for ref in "${images[@]}"; do
      skopeo copy -q --all --src-tls-verify=false "docker://$reg/$ref" "oci:$l:$(tagof "$ref")"
    done
    ;;
  *) die "unknown tool $tool" ;;
  esac
  t1=$(now)
  case $tool in meshpack*) ;; *) tar --zstd -cf "$out" -C "$l" . ;; esac
  t2=$(now)
  sync
  t3=$(now)
  echo "pull=$(elapsed "$t0" "$t1") tar=$(elapsed "$t1" "$t2") sync=$(elapsed "$t2" "$t3")" >"$steps"
  exit 0
fi

# The timed body of a load: `hack/bench.sh __load TOOL STEPFILE`, run under
# /usr/bin/time. Reads BENCH_TARGET (HOST:PORT of a fresh registry),
# BENCH_BUNDLE, BENCH_PUB, BENCH_LAYOUT (an empty directory to unpack into),
# BENCH_RAWSRC (the layout unpacked beforehand, for raw), BENCH_JSON and
# BENCH_LOAD_IMAGES ("image ref=… digest=… dest=…" lines of benchtool images).
# Ends with sync so the registry's storage is on disk.
if [ "${1:-}" = __load ]; then
  tool=$2 steps=$3
  reg=$BENCH_TARGET b=$BENCH_BUNDLE l=$BENCH_LAYOUT
  mapfile -t images <<<"$BENCH_LOAD_IMAGES"
  t0=$(now)
  case $tool in
  oras | crane | skopeo) tar --zstd -xf "$b" -C "$l" ;;
  esac
  t1=$(now)
  case $tool in
  meshpack)
    "$MESHPACK" -q bundle load "$b" --registry "$reg/bench" --plain-http --key "$BENCH_PUB" -o json >"$BENCH_JSON"
    ;;
  oras)
    for line in "${images[@]}"; do
      eval "${line#image }"
      oras cp --no-tty --to-plain-http --from-oci-layout "$l@$digest" "$reg/bench/$dest" >/dev/null
    done
    ;;
  crane) crane push --insecure --index "$l" "$reg/bench/bundle:all" ;;
  skopeo)
    for line in "${images[@]}"; do
      eval "${line#image }"
      skopeo copy -q --all --dest-tls-verify=false "oci:$l:$ref" "docker://$reg/bench/$dest"
    done
    ;;
  raw) "$BT" rawpush -conc "$RAW_CONC" "$reg" "$BENCH_RAWSRC" ;;
  *) die "unknown tool $tool" ;;
  esac
  t2=$(now)
  sync
  t3=$(now)
  echo "unpack=$(elapsed "$t0" "$t1") push=$(elapsed "$t1" "$t2") sync=$(elapsed "$t2" "$t3")" >"$steps"
  exit 0
fi

# The commands above, as BENCHMARKS.md shows them (" ; " separates lines).
declare -A CMD=(
  [meshpack]='meshpack bundle create out.tar.zst --istio none $(for r in $IMAGES; do echo --image $r; done) $MIRRORS --allow-unsigned --verify-upstream=off ; sync'
  [oras]='for r in $IMAGES; do oras cp --from-plain-http --no-tty --to-oci-layout $REG/$r $L:$(tagof $r); done ; tar --zstd -cf out.tar.zst -C $L . ; sync'
  [crane]='crane pull --insecure --format oci --platform all $(for r in $IMAGES; do echo $REG/$r; done) $L ; tar --zstd -cf out.tar.zst -C $L . ; sync'
  [skopeo]='for r in $IMAGES; do skopeo copy -q --all --src-tls-verify=false docker://$REG/$r oci:$L:$(tagof $r); done ; tar --zstd -cf out.tar.zst -C $L . ; sync'
  [verify]='meshpack bundle verify --allow-unsigned out.tar.zst'
  [dd]='dd if=/dev/zero of=dd.out bs=4M count=$BYTES iflag=count_bytes conv=fdatasync ; sync'
  [read]='benchtool read -which first|last [-min-bytes 1048576] out.tar.zst ; tar --zstd -xOf out.tar.zst --occurrence=1 ./blobs/sha256/HEX >/dev/null'
  [signed]='COSIGN_PASSWORD=… meshpack bundle create bundle.tar.zst --istio none $(for r in $IMAGES; do echo --image $r; done) $MIRRORS --key cosign.key --verify-upstream=off'
  [load meshpack]='meshpack bundle load bundle.tar.zst --registry $TARGET/bench --plain-http --key cosign.pub -o json ; sync'
  [load oras]='tar --zstd -xf bundle.tar.zst -C $L ; for each image: oras cp --no-tty --to-plain-http --from-oci-layout $L@$DIGEST $TARGET/bench/$REPO:$TAG ; sync'
  [load crane]='tar --zstd -xf bundle.tar.zst -C $L ; crane push --insecure --index $L $TARGET/bench/bundle:all ; sync'
  [load skopeo]='tar --zstd -xf bundle.tar.zst -C $L ; for each image: skopeo copy -q --all --dest-tls-verify=false oci:$L:$REF docker://$TARGET/bench/$REPO:$TAG ; sync'
  [load raw]='benchtool rawpush -conc $RAW_CONC $TARGET $L   # POST /v2/raw/blobs/uploads/ + PUT $LOCATION?digest=… per blob ; sync'
  [load interrupted]='meshpack bundle load … [--state-dir none] -o json & benchtool killat -pid $! -root $TARGET_ROOT -bytes $((UPLOAD_BYTES / 2)) ; meshpack bundle load … [--state-dir none] -o json'
  [load strace]='strace -f -qq -e trace=openat,creat,open -o strace.log meshpack bundle load … ; benchtool writes strace.log'
)

# rec KIND key=value...: append one record to the results file.
rec() { local IFS=$'\t'; echo "$*" >>"$RESULTS"; }

# ---------------------------------------------------------------------------
install_tools() {
  local need=()
  command -v zstd >/dev/null || need+=(zstd)
  command -v skopeo >/dev/null || need+=(skopeo)
  [ -x /usr/bin/time ] || need+=(time)
  if want load; then
    command -v strace >/dev/null || need+=(strace)
    command -v curl >/dev/null || need+=(curl)
    command -v jq >/dev/null || need+=(jq)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    log "apt-get install ${need[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  go_tool oras "$ORAS_PKG"
  go_tool crane "$CRANE_PKG"
  mkdir -p "$DIR/bin"
  log "building hack/fixture-upstream and hack/benchtool"
  go build -o "$FIXTURE" ./hack/fixture-upstream
  go build -o "$BT" ./hack/benchtool
  [ -x "$MESHPACK" ] || die "$MESHPACK missing: run 'make bench' (it builds bin/meshpack) or set MESHPACK"
}

# go_tool NAME MODULE@VERSION: build once into .cache/bin, keyed by version.
go_tool() {
  local name=$1 pkg=$2 stamp="$TOOLBIN/.$1.version"
  if [ -x "$TOOLBIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then
    return
  fi
  mkdir -p "$TOOLBIN"
  log "go install $pkg"
  GOBIN=$TOOLBIN GOFLAGS=-buildvcs=false go install "$pkg"
  echo "$pkg" >"$stamp"
}

# ---------------------------------------------------------------------------
DROP=no
check_drop() {
  if [ "$(id -u)" = 0 ] && (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    DROP=yes
  elif [ "$(id -u)" != 0 ]; then
    DROP="no (not root)"
  else
    DROP="no (/proc/sys/vm/drop_caches not writable)"
  fi
}

# cold: flush dirty pages and drop the page cache where allowed.
cold() {
  sync
  [ "$DROP" = yes ] && echo 3 >/proc/sys/vm/drop_caches
  return 0
}

# prepare [read]: cold cache, then warm the source (registry storage) and
# the binaries; with "read", meshpack's binary is warmed by reading the
# file through instead (the read-through comparison row).
prepare() {
  cold
  find "$REGROOT" -type f -print0 | xargs -0 -r cat >/dev/null
  if [ "${1:-}" = read ]; then
    cat "$MESHPACK" >/dev/null
    return
  fi
  warm_bins
}

# warm_bins: start every tool once, so its first pages are in the page
# cache. Not by reading the files: pages read() brings in sit in large
# folios that a later exec maps whole, ~40 MiB more file-backed RSS for a
# 160 MB Go binary on this kernel (the readwarm row measures it), which is
# the page cache's state, not the tool's memory.
warm_bins() {
  "$MESHPACK" version >/dev/null 2>&1 || true
  "$TOOLBIN/oras" version >/dev/null 2>&1 || true
  "$TOOLBIN/crane" version >/dev/null 2>&1 || true
  skopeo --version >/dev/null 2>&1 || true
  zstd --version >/dev/null 2>&1 || true
  tar --version >/dev/null 2>&1 || true
  "$BT" freeport >/dev/null 2>&1 || true
}

# cpu_ticks PID: user+system clock ticks of a process so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# timed NAME CMD...: run CMD under GNU time; sets T_wall T_rss_kb T_user
# T_sys and T_fsout (getrusage ru_oublock: 512-byte units the command's
# processes caused to be written to storage).
timed() {
  local name=$1 tf="$DIR/time.out"
  shift
  if ! /usr/bin/time -o "$tf" -f "wall=%e rss_kb=%M user=%U sys=%S fsout=%O" "$@" >>"$DIR/$name.log" 2>&1; then
    tail -20 "$DIR/$name.log" >&2
    die "$name failed (log: $DIR/$name.log)"
  fi
  eval "$(tail -1 "$tf" | sed 's/\([a-z_]*\)=/T_\1=/g')"
}

# ---------------------------------------------------------------------------
FIXPID=""
stop_fixture() {
  if [ -n "$FIXPID" ] && kill -0 "$FIXPID" 2>/dev/null; then
    kill "$FIXPID" 2>/dev/null || true
    wait "$FIXPID" 2>/dev/null || true
  fi
  FIXPID=""
}
TMPFS=""
cleanup() {
  stop_fixture
  stop_target
  [ -z "$TMPFS" ] || rm -rf "$TMPFS"
}
trap cleanup EXIT

# start_fixture SIZE: serve a fresh workload; sets REG REGROOT IMAGES MIRRORS.
start_fixture() {
  local size=$1 state="$DIR/state-$1.json"
  REGROOT="$DIR/registry-$size"
  rm -rf "$REGROOT" "$state"
  log "$size: starting the fixture upstream (generating the workload)"
  "$FIXTURE" --state "$state" --size "$size" --root "$REGROOT" \
    --platform linux/amd64,linux/arm64 >"$DIR/fixture-$size.log" 2>&1 &
  FIXPID=$!
  local waited=0
  until [ -f "$state" ]; do
    kill -0 "$FIXPID" 2>/dev/null || { cat "$DIR/fixture-$size.log" >&2; die "fixture upstream exited"; }
    [ $waited -lt 1200 ] || die "fixture upstream not ready after 600 s"
    sleep 0.5
    waited=$((waited + 1))
  done
  local wl k v
  wl=$("$BT" workload "$state")
  REG="" IMAGES=() MIRRORS=()
  local -A w=()
  while IFS='=' read -r k v; do
    case $k in
    registry) REG=$v ;;
    image) IMAGES+=("$v") ;;
    mirror) MIRRORS+=("$v") ;;
    *) w[$k]=$v ;;
    esac
  done <<<"$wl"
  rec workload "size=$size" "images=${#IMAGES[@]}" "platforms=${w[platforms]}" "layers=${w[layers]}" \
    "layer_bytes=${w[layer_bytes]}" "raw_bytes=${w[raw_bytes]}" "seeding=${w[seeding]}"
  for v in "${IMAGES[@]}"; do rec image "size=$size" "ref=$v"; done
  export BENCH_REG=$REG MESHPACK
  BENCH_IMAGES=$(printf '%s\n' "${IMAGES[@]}")
  BENCH_MIRRORS=$(printf '%s\n' "${MIRRORS[@]}")
  export BENCH_IMAGES BENCH_MIRRORS
}

# create_run SIZE TOOL RUN: one timed create; leaves $W/TOOL.tar.zst.
# meshpack-tmpfs is meshpack writing to $TMPFS (memory, no disk), to tell
# the disk's share of the time from the pipeline's.
create_run() {
  local size=$1 tool=$2 run=$3 out="$W/$2.tar.zst" l="$W/$2-layout" steps="$W/steps"
  [ "$tool" = meshpack-tmpfs ] && out="$TMPFS/out.tar.zst"
  rm -rf "$out" "$l"
  if [ "$tool" = meshpack-readwarm ]; then prepare read; else prepare; fi
  local c0 c1 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(cpu_ticks "$FIXPID")
  timed "create-$tool" bash "$SELF" __step "$tool" "$out" "$l" "$steps"
  c1=$(cpu_ticks "$FIXPID")
  local size_out
  size_out=$(stat -c %s "$out")
  # shellcheck disable=SC2046
  rec create "size=$size" "tool=$tool" "run=$run" "wall=$T_wall" "rss_kb=$T_rss_kb" "user=$T_user" "sys=$T_sys" \
    "out=$size_out" "load=$load" $(tr ' ' '\n' <"$steps") "reg_cpu=$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / t }')"
  log "$size: $tool run $run: ${T_wall}s, peak RSS $((T_rss_kb / 1024)) MiB, $size_out bytes"
  case $tool in meshpack-tmpfs | meshpack-readwarm) rm -f "$out" ;; esac
}

# tmpfs_for SIZE: sets TMPFS to a fresh directory on /dev/shm when it has
# room for twice SIZE, else to "".
tmpfs_for() {
  TMPFS=""
  local need avail
  need=$(numfmt --from=auto "${1%B}" 2>/dev/null) || return 0
  need=$((need * 2 / 1024))
  avail=$(df -k --output=avail /dev/shm 2>/dev/null | tail -1 | xargs || echo 0)
  if [ "${avail:-0}" -gt "$need" ]; then
    TMPFS=$(mktemp -d /dev/shm/meshpack-bench.XXXXXX)
  fi
}

# read_runs SIZE: random access into the bundle, and into one tar.zst.
read_runs() {
  local size=$1 bundle="$W/meshpack.tar.zst" run which min line
  for run in $(seq "$RUNS"); do
    for min in 0 1048576; do
      for which in first last; do
        cold
        line=$("$BT" read -which "$which" -min-bytes "$min" "$bundle")
        # shellcheck disable=SC2046
        rec read "size=$size" "format=meshpack bundle" "which=$(label "$which" "$min")" "run=$run" $(echo "${line#which=* }")
      done
    done
  done
  local other=""
  for t in crane oras skopeo; do [ -f "$W/$t.tar.zst" ] && { other=$t; break; }; done
  [ -n "$other" ] || return 0
  local tarball="$W/$other.tar.zst" listing
  listing=$(tar --zstd -tvRf "$tarball" | awk '$NF ~ /blobs\/sha256\/./ { sub(":", "", $2); print $2, $5, $NF }')
  for run in $(seq "$RUNS"); do
    for min in 0 1048576; do
      for which in first last; do
        local blk sz name t0 t1
        read -r blk sz name < <(awk -v m="$min" '$2 >= m' <<<"$listing" | if [ "$which" = first ]; then head -1; else tail -1; fi)
        cold
        t0=$(now)
        tar --zstd -xOf "$tarball" --occurrence=1 "$name" >/dev/null
        t1=$(now)
        rec read "size=$size" "format=$other + tar --zstd" "which=$(label "$which" "$min")" "run=$run" \
          "digest=sha256:${name##*/}" "bytes=$sz" "offset=$(((blk + 1) * 512))" "total=$(elapsed "$t0" "$t1")"
      done
    done
  done
}

label() { if [ "$2" = 0 ]; then echo "$1 blob"; else echo "$1 blob ≥ 1 MiB"; fi; }

# bench_size SIZE INDEX: everything measured at one workload size.
bench_size() {
  local size=$1 idx=$2
  W="$DIR/work-$size"
  rm -rf "$W"
  mkdir -p "$W"
  start_fixture "$size"
  ! want create || create_size "$size" "$idx"
  ! want load || signed_bundle "$size"
  stop_fixture
  rm -rf "$REGROOT"
  ! want create || create_after "$size"
  ! want load || load_size "$size" "$idx"
  rm -rf "$W" "$DIR/dd.out"
}

# create_size SIZE INDEX: the create runs, while the fixture serves.
create_size() {
  local size=$1 idx=$2 tools=(meshpack) run t
  [ "$idx" = 0 ] && tools+=("${TOOLS[@]}")
  tmpfs_for "$size"
  for run in $(seq "$RUNS"); do
    for t in "${tools[@]}"; do create_run "$size" "$t" "$run"; done
    [ "$idx" != 0 ] || [ -z "$TMPFS" ] || create_run "$size" meshpack-tmpfs "$run"
  done
  create_run "$size" meshpack-readwarm 1
  [ -z "$TMPFS" ] || rm -rf "$TMPFS"
  TMPFS=""
  for t in "${tools[@]}"; do
    local src="$W/$t-layout"
    [ "$t" = meshpack ] && src="$W/meshpack.tar.zst"
    # shellcheck disable=SC2046
    rec blobs "size=$size" "source=$t" $("$BT" blobs "$src")
  done
}

# create_after SIZE: verify, random access and dd, once the fixture is gone.
create_after() {
  local size=$1 run
  for run in $(seq "$RUNS"); do
    cold
    timed verify "$MESHPACK" bundle verify --allow-unsigned "$W/meshpack.tar.zst"
    rec verify "size=$size" "run=$run" "wall=$T_wall" "rss_kb=$T_rss_kb" "user=$T_user" "sys=$T_sys"
    log "$size: verify run $run: ${T_wall}s, peak RSS $((T_rss_kb / 1024)) MiB"
  done
  read_runs "$size"
  local bytes
  bytes=$(stat -c %s "$W/meshpack.tar.zst")
  rm -rf "$W"/*-layout "$W"/*.tar.zst
  for run in $(seq "$RUNS"); do
    rm -f "$DIR/dd.out"
    cold
    timed dd bash -c "dd if=/dev/zero of='$DIR/dd.out' bs=4M count=$bytes iflag=count_bytes conv=fdatasync && sync"
    rec dd "size=$size" "run=$run" "bytes=$bytes" "wall=$T_wall"
    log "$size: dd run $run: ${T_wall}s"
  done
  rm -f "$DIR/dd.out"
}

# ---------------------------------------------------------------------------
# Load. Everything a load may write besides the registry's storage lives
# under $W/load (LW): the bundle, TMPDIR, XDG_CACHE_HOME (where
# `--state-dir auto` keeps the upload journal) and the layout the other
# tools unpack into; its growth during a run is the extra disk.

# signed_bundle SIZE: a bundle of the workload signed with a throwaway key,
# $W/load/bundle.tar.zst (the fixture must be running).
signed_bundle() {
  local size=$1 args=() ref m
  LW=$W/load
  mkdir -p "$LW"
  for ref in "${IMAGES[@]}"; do args+=(--image "$ref"); done
  for m in "${MIRRORS[@]}"; do args+=(--mirror "$m"); done
  cold
  timed "signed-$size" env COSIGN_PASSWORD="$KEYPASS" "$MESHPACK" bundle create "$LW/bundle.tar.zst" --istio none "${args[@]}" \
    --key "$KEYDIR/cosign.key" --verify-upstream=off
  rec signed "size=$size" "wall=$T_wall" "rss_kb=$T_rss_kb" "out=$(stat -c %s "$LW/bundle.tar.zst")"
  log "$size: signed bundle for the load runs: ${T_wall}s"
}

# load_size SIZE INDEX: every load measurement at one size.
load_size() {
  local size=$1 idx=$2 tools=(meshpack) run t
  LW=$W/load
  [ "$idx" = 0 ] && tools+=("${TOOLS[@]}" raw)
  local info upload_bytes blob_bytes blobs mode
  info=$("$BT" images "$LW/bundle.tar.zst")
  BENCH_LOAD_IMAGES=$(grep '^image ' <<<"$info")
  eval "$(grep '^upload_bytes=' <<<"$info")"
  UPLOAD=$upload_bytes
  rec loadset "size=$size" "bundle=$(stat -c %s "$LW/bundle.tar.zst")" "upload=$upload_bytes" "blob_bytes=$blob_bytes" \
    "blobs=$blobs" "images=$(grep -c '^image ' <<<"$info")"
  export BENCH_LOAD_IMAGES BENCH_BUNDLE=$LW/bundle.tar.zst BENCH_PUB=$KEYDIR/cosign.pub BENCH_LAYOUT=$LW/layout \
    BENCH_RAWSRC=$W/rawsrc BENCH_JSON=$W/load.json
  if [[ " ${tools[*]} " == *" raw "* ]]; then
    mkdir -p "$W/rawsrc"
    tar --zstd -xf "$LW/bundle.tar.zst" -C "$W/rawsrc"
  fi
  for run in $(seq "$RUNS"); do
    for t in "${tools[@]}"; do load_run "$size" "$t" "$run"; done
  done
  rm -rf "$W/rawsrc"
  [ "$idx" = 0 ] || return 0
  strace_run "$size"
  for run in $(seq "$RUNS"); do
    for mode in auto none; do interrupt_run "$size" "$mode" "$run"; done
  done
}

# fresh_dirs: empty TMPDIR, cache and layout directories under LW.
fresh_dirs() {
  rm -rf "$LW/tmp" "$LW/cache" "$LW/layout"
  mkdir -p "$LW/tmp" "$LW/cache" "$LW/layout"
}

# start_target: a fresh `meshpack registry serve` on a free port, storage
# in $W/target; sets TARGET (HOST:PORT), TROOT and TPID.
TPID=""
start_target() {
  TROOT=$W/target
  rm -rf "$TROOT"
  TARGET=127.0.0.1:$("$BT" freeport)
  "$MESHPACK" -q registry serve --root "$TROOT" --addr "$TARGET" >>"$DIR/target.log" 2>&1 &
  TPID=$!
  local i
  for i in $(seq 100); do
    curl -fsS -o /dev/null "http://$TARGET/v2/" 2>/dev/null && break
    kill -0 "$TPID" 2>/dev/null || { tail -5 "$DIR/target.log" >&2; die "registry serve exited"; }
    [ "$i" -lt 100 ] || die "registry serve on $TARGET not ready after 10 s"
    sleep 0.1
  done
  export BENCH_TARGET=$TARGET
}

stop_target() {
  if [ -n "$TPID" ] && kill -0 "$TPID" 2>/dev/null; then
    kill "$TPID" 2>/dev/null || true
    wait "$TPID" 2>/dev/null || true
  fi
  TPID=""
}

# prepare_load TOOL: cold cache, then warm the source (the bundle, or the
# unpacked layout raw reads) and the binaries.
prepare_load() {
  cold
  if [ "$1" = raw ]; then
    find "$W/rawsrc" -type f -print0 | xargs -0 -r cat >/dev/null
  else
    cat "$LW/bundle.tar.zst" >/dev/null
  fi
  warm_bins
}

# dirbytes DIR: apparent bytes under DIR.
dirbytes() { du -sb "$1" 2>/dev/null | cut -f1; }

# watch_start DIR: sample the bytes under DIR every 0.1 s in the background
# until watch_stop, which sets D_base, D_peak and D_end.
watch_start() {
  local dir=$1 f="$W/watch"
  rm -f "$f" "$f.stop"
  (
    base=$(dirbytes "$dir") peak=$base
    while [ ! -e "$f.stop" ]; do
      s=$(dirbytes "$dir")
      [ "${s:-0}" -le "$peak" ] || peak=$s
      sleep 0.1
    done
    s=$(dirbytes "$dir")
    [ "$s" -le "$peak" ] || peak=$s
    echo "D_base=$base D_peak=$peak D_end=$s" >"$f"
  ) &
  WPID=$!
}

watch_stop() {
  touch "$W/watch.stop"
  wait "$WPID"
  eval "$(cat "$W/watch")"
}

# load_run SIZE TOOL RUN: one timed load into a fresh registry.
load_run() {
  local size=$1 tool=$2 run=$3 steps="$W/steps" json="$W/load.json"
  fresh_dirs
  rm -f "$json"
  start_target
  prepare_load "$tool"
  local load c0 c1
  load=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(cpu_ticks "$TPID")
  watch_start "$LW"
  timed "load-$tool" env TMPDIR="$LW/tmp" XDG_CACHE_HOME="$LW/cache" bash "$SELF" __load "$tool" "$steps"
  watch_stop
  c1=$(cpu_ticks "$TPID")
  local extra=() stored
  stored=$("$BT" regbytes "$TROOT")
  [ "$tool" != meshpack ] || extra=("pushed=$(jq .bytesPushed "$json")" "mounted=$(jq .bytesMounted "$json")"
    "verify=$(jq '.verifyDurationNanos / 1e9' "$json")" "verified=$(jq -r .verified "$json")")
  # shellcheck disable=SC2046
  rec load "size=$size" "tool=$tool" "run=$run" "wall=$T_wall" "rss_kb=$T_rss_kb" "user=$T_user" "sys=$T_sys" \
    "written=$((T_fsout * 512))" "extra=$((D_peak - D_base))" "left=$((D_end - D_base))" "stored=${stored#data=}" \
    "load=$load" $(cat "$steps") "reg_cpu=$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / t }')" \
    "${extra[@]}"
  log "$size: load $tool run $run: ${T_wall}s, peak RSS $((T_rss_kb / 1024)) MiB, extra disk $((D_peak - D_base)) bytes"
  stop_target
  rm -rf "$TROOT" "$LW/layout"
}

# strace_run SIZE: one load under strace, listing the files it opened for
# writing.
strace_run() {
  local size=$1
  fresh_dirs
  start_target
  prepare_load meshpack
  TMPDIR="$LW/tmp" XDG_CACHE_HOME="$LW/cache" strace -f -qq -e trace=openat,creat,open -o "$W/strace.log" \
    "$MESHPACK" -q bundle load "$LW/bundle.tar.zst" --registry "$TARGET/bench" --plain-http --key "$KEYDIR/cosign.pub" \
    -o json >"$W/load.json" 2>>"$DIR/load-strace.log"
  local w
  w=$("$BT" writes "$W/strace.log")
  rec writes "size=$size" "files=$(sed 's/^files=\([0-9]*\).*/\1/' <<<"$w")" "paths=$(sed 's/^files=[0-9]* paths=//' <<<"$w" | sed "s#$LW/#\$LW/#g")"
  log "$size: load under strace: $w"
  stop_target
  rm -rf "$TROOT" "$W/strace.log"
}

# interrupt_run SIZE MODE RUN: kill -9 a load once the registry stores half
# the upload bytes, then run it again to completion. MODE auto keeps the
# default journal (--state-dir auto, in XDG_CACHE_HOME=$LW/cache); none
# passes --state-dir none.
interrupt_run() {
  local size=$1 mode=$2 run=$3 args=()
  [ "$mode" = auto ] || args=(--state-dir none)
  fresh_dirs
  start_target
  prepare_load meshpack
  local lp k t0 t1
  TMPDIR="$LW/tmp" XDG_CACHE_HOME="$LW/cache" "$MESHPACK" -q bundle load "$LW/bundle.tar.zst" --registry "$TARGET/bench" \
    --plain-http --key "$KEYDIR/cosign.pub" "${args[@]}" -o json >/dev/null 2>>"$DIR/load-interrupt.log" &
  lp=$!
  k=$("$BT" killat -pid "$lp" -root "$TROOT" -bytes $((UPLOAD / 2)))
  wait "$lp" 2>/dev/null || true
  t0=$(now)
  TMPDIR="$LW/tmp" XDG_CACHE_HOME="$LW/cache" "$MESHPACK" -q bundle load "$LW/bundle.tar.zst" --registry "$TARGET/bench" \
    --plain-http --key "$KEYDIR/cosign.pub" "${args[@]}" -o json >"$W/load.json" 2>>"$DIR/load-interrupt.log" ||
    die "re-run after kill -9 failed (log: $DIR/load-interrupt.log)"
  t1=$(now)
  local j=$W/load.json
  # shellcheck disable=SC2046
  rec interrupt "size=$size" "mode=$mode" "run=$run" "upload=$UPLOAD" $k "wall2=$(elapsed "$t0" "$t1")" \
    "pushed2=$(jq .bytesPushed "$j")" "resumed2=$(jq .bytesResumed "$j")" "uploads_resumed2=$(jq .uploadsResumed "$j")" \
    "skipped2=$(jq .bytesSkipped "$j")" "blobs_pushed2=$(jq .blobsPushed "$j")" "blobs_skipped2=$(jq .blobsSkipped "$j")"
  log "$size: interrupted load ($mode) run $run: $k; re-run sent $(jq .bytesPushed "$j") bytes"
  stop_target
  rm -rf "$TROOT"
}

machine_facts() {
  local dev fstype drv model
  read -r dev fstype < <(findmnt -no SOURCE,FSTYPE -T "$DIR")
  drv=$(basename "$(readlink -f "/sys/block/$(basename "$dev")/device/driver" 2>/dev/null)" 2>/dev/null || true)
  model=$(lsblk -dno MODEL "$dev" 2>/dev/null | xargs || true)
  local os=unknown
  [ -r /etc/os-release ] && os=$(. /etc/os-release && echo "$PRETTY_NAME")
  rec machine "nproc=$(nproc)" "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
    "mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" "kernel=$(uname -r)" "os=$os" \
    "disk=$dev ${drv:+($drv${model:+, $model}) }$(lsblk -dno SIZE "$dev" 2>/dev/null | xargs), $fstype"
  rec tool name=meshpack "version=$("$MESHPACK" version 2>/dev/null | head -1 | awk '{ print $2 }')"
  rec tool name=oras "version=$(oras version | awk '/^Version/ { print $2 }')"
  rec tool name=crane "version=$(crane version)"
  rec tool name=skopeo "version=$(skopeo --version | awk '{ print $3 }')"
  rec tool name=zstd "version=$(zstd --version | grep -o 'v[0-9.]*' | head -1)"
  rec tool name=tar "version=$(tar --version | head -1 | awk '{ print $NF }')"
  rec tool name=go "version=$(go env GOVERSION)"
  ! want load || rec tool name=strace "version=$(strace -V | head -1 | awk '{ print $NF }')"
}

main() {
  local started start
  start=$(now)
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  mkdir -p "$DIR"
  if [ -z "$OUT_MD" ]; then
    OUT_MD=$ROOT/BENCHMARKS.md
    want create && want load || OUT_MD=$DIR/BENCHMARKS.md
  fi
  install_tools
  check_drop
  log "page cache drop: $DROP"
  : >"$RESULTS"
  machine_facts
  local cmds=()
  ! want create || cmds+=(meshpack "${TOOLS[@]}" verify dd read)
  if want load; then
    KEYDIR=$DIR/key KEYPASS=bench-throwaway
    rm -rf "$KEYDIR"
    COSIGN_PASSWORD=$KEYPASS "$MESHPACK" -q keys generate --dir "$KEYDIR" >/dev/null
    cmds+=(signed "load meshpack")
    for t in "${TOOLS[@]}"; do cmds+=("load $t"); done
    cmds+=("load raw" "load interrupted" "load strace")
  fi
  for t in "${cmds[@]}"; do rec cmd "name=$t" "text=${CMD[$t]}"; done
  local i=0
  for size in "${SIZES[@]}"; do
    bench_size "$size" "$i"
    i=$((i + 1))
  done
  rec meta "started=$started" "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "version=$("$MESHPACK" version 2>/dev/null | head -1 | awk '{ print $2 }')" "runs=$RUNS" "sizes=${SIZES[*]}" \
    "compare_size=${SIZES[0]}" "tools=${TOOLS[*]}" "sections=$SECTIONS" "raw_conc=$RAW_CONC" \
    "load_conc=$("$MESHPACK" bundle load --help | sed -n 's/.*--concurrency int.*(default \([0-9]*\)).*/\1/p')" \
    "drop_caches=$DROP" "elapsed=$(elapsed "$start" "$(now)")"
  "$BT" report -in "$RESULTS" -out "$OUT_MD"
  log "wrote $OUT_MD (raw results: $RESULTS), took $(elapsed "$start" "$(now)") s"
}

main "$@"

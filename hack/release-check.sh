#!/usr/bin/env bash
# hack/release-check.sh — `make release-check` (part of `make test`): runs
# `goreleaser check` and a snapshot release twice, signing checksums.txt with
# a throwaway cosign key, then checks what an enclave's software intake
# checks: every archive holds LICENSE and NOTICE, every archive has a
# CycloneDX SBOM, `cosign verify-blob` accepts the signature of
# checksums.txt and every checksum matches, and the two builds of this
# commit produced identical binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MESHPACK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshpack/tools/bin}
export PATH="$BIN:$PATH"
say() { echo "release-check: $*" >&2; }
die() { say "$*"; exit 1; }
install_tool() { # install_tool NAME MODULE@VERSION
  local stamp="$BIN/.$1.version"
  if [ -x "$BIN/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$2" ]; then return; fi
  say "go install $2 (once per machine)"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$2"
  echo "$2" >"$stamp"
}
install_tool goreleaser github.com/goreleaser/goreleaser/v2@v2.15.1
install_tool cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
command -v cosign >/dev/null || die "cosign missing: run hack/test-setup.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshpack-release.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export COSIGN_PASSWORD=release-check
go run ./cmd/meshpack keys generate --dir "$WORK/key" >/dev/null 2>&1
export MESHPACK_RELEASE_KEY="$WORK/key/cosign.key"

goreleaser check
for run in 1 2; do
  say "snapshot release, run $run"
  goreleaser release --snapshot --clean >"$WORK/goreleaser-$run.log" 2>&1 || { tail -30 "$WORK/goreleaser-$run.log"; die "goreleaser release --snapshot failed"; }
  (cd dist && find . -name meshpack -type f -path '*meshpack_*' -exec sha256sum {} + | sort -k2) >"$WORK/binaries-$run"
  [ "$run" = 2 ] || cp -r dist "$WORK/dist-1"
done
[ -s "$WORK/binaries-1" ] || die "no binaries in dist/"
diff -u "$WORK/binaries-1" "$WORK/binaries-2" || die "two builds of the same commit differ: not reproducible"

cd dist
SIGSTORE_REKOR_PUBLIC_KEY=/dev/null \
  cosign verify-blob --key "$WORK/key/cosign.pub" --signature checksums.txt.sig --insecure-ignore-tlog checksums.txt >"$WORK/verify.log" 2>&1 ||
  { cat "$WORK/verify.log" >&2; die "cosign verify-blob does not accept checksums.txt.sig"; }
sha256sum -c --ignore-missing --quiet checksums.txt || die "checksums.txt does not match the files"
n=0
for a in meshpack_*.tar.gz; do
  n=$((n + 1))
  list=$(tar -tzf "$a")
  for f in LICENSE NOTICE meshpack; do
    grep -qx "$f" <<<"$list" || die "$a lacks $f"
  done
  [ -s "$a.cdx.json" ] || die "$a has no SBOM ($a.cdx.json)"
  grep -q '"bomFormat": *"CycloneDX"' "$a.cdx.json" || die "$a.cdx.json is not a CycloneDX document"
done
[ "$n" -ge 4 ] || die "want 4 archives (linux/darwin × amd64/arm64), got $n"
say "ok: $n archives with LICENSE, NOTICE and a CycloneDX SBOM; signed checksums verify; builds reproducible"

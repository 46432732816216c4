#!/usr/bin/env bash
# Runs every fuzz target in the repository (every `func FuzzX` in a
# *_test.go file), one after the other, each for FUZZTIME: a duration such
# as 10s or a count such as 200x. `make fuzz FUZZTIME=1m` runs them at
# length; `make test` (CI) runs each briefly after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}

mapfile -t files < <(find . -name '*_test.go' -not -path './.git/*' -not -path '*/testdata/*' | sort)
mapfile -t dirs < <(grep -l '^func Fuzz' "${files[@]}" | xargs -n1 dirname | sort -u)
n=0
for dir in "${dirs[@]}"; do
	mapfile -t targets < <(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$dir"/*_test.go | sort -u)
	for target in "${targets[@]}"; do
		echo "==> $target in ./${dir#./} for $FUZZTIME"
		"$GO" test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "./${dir#./}"
		n=$((n + 1))
	done
done
echo "fuzzed $n targets for $FUZZTIME each"

# hack/bench-section.sh — sourced by the bench scripts that own one section
# of BENCHMARKS.md.
#
# write_section NAME TEXT FILE: replace the lines from <!-- NAME:begin -->
# to <!-- NAME:end --> of FILE with TEXT (which carries both markers), or
# append TEXT when FILE has no such section yet.
write_section() {
  local name=$1 text=$2 file=$3
  if grep -q "<!-- $name:begin -->" "$file" 2>/dev/null; then
    awk -v s="$text" -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" \
      '$0 == b { print s; skip = 1; next } $0 == e { skip = 0; next } !skip' "$file" >"$file.tmp"
    mv "$file.tmp" "$file"
  else
    printf '\n%s\n' "$text" >>"$file"
  fi
}

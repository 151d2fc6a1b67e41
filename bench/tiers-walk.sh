#!/usr/bin/env bash
# Times `tierctl tiers status` (parallel walk, hardlinks once) against `du -s` over a tier of
# 100,000 files in 1,000 directories; prints the median of 5 runs each and the ratio.
# Usage: bench/tiers-walk.sh [FILES]   (a script, not a test; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
runs=5
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/tierctl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/fast"
mkdir -p "$root"
per_dir=100
dirs=$(( (files + per_dir - 1) / per_dir ))
for top in $(seq 0 9); do
  for d in $(seq 0 $(( dirs / 10 - 1 ))); do
    dir="$root/top$top/d$d"
    mkdir -p "$dir"
    (cd "$dir" && printf 'x%s\n' $(seq 1 $per_dir) | xargs touch)
  done
done
printf 'tiers:\n  fast: { root: %s }\n' "$root" >"$work/tiers.yaml"
count=$(find "$root" -type f | wc -l)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}
sync
for _ in $(seq $runs); do time_ms "$bin" --tiers "$work/tiers.yaml" tiers status -w 100 -c 100; done | median >"$work/t"
for _ in $(seq $runs); do time_ms du -s "$root"; done | median >"$work/d"
t=$(cat "$work/t"); d=$(cat "$work/d")
echo "files: $count, cores: $(nproc)"
echo "tierctl tiers status: ${t} ms (median of $runs)"
echo "du -s:                ${d} ms (median of $runs)"
awk -v t="$t" -v d="$d" 'BEGIN { if (d == 0) d = 1; printf "ratio tierctl/du: %.2f\n", t / d }'

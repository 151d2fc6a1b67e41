#!/usr/bin/env bash
# How long `tierctl audit` takes over the whole compose corpus: every compose file audited once
# per run, 5 runs, median total wall time. The corpus's directory layout is rebuilt from
# SOURCES.md first (the saved names are flattened), so include/extends resolve.
#   bench/audit-corpus.sh [CORPUS_DIR]   (default: ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-${TIERCTL_CORPUS:-../shared/corpus}}
command=${TIERCTL_BENCH_COMMAND:-audit}
[ -f "$corpus/compose/SOURCES.md" ] || { echo "no corpus at $corpus" >&2; exit 2; }
cargo build -q --release
bin=$PWD/target/release/tierctl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# rebuild the tree: | n | `saved` | repo | `path in repo` | ...
files=()
while IFS='|' read -r _ _ saved _ path _; do
  saved=$(echo "$saved" | tr -d '` ')
  path=$(echo "$path" | sed 's/^ *//; s/ *$//')
  [ -f "$corpus/compose/$saved" ] || continue
  repo=${saved%%/*}
  case "$path" in
    *"(lines"*) rel=$saved ;;
    *) rel="$repo/$(echo "$path" | tr -d '`')" ;;
  esac
  mkdir -p "$(dirname "$work/tree/$rel")"
  cp "$corpus/compose/$saved" "$work/tree/$rel"
  case "$rel" in *.yml | *.yaml | *.yml.template) files+=("$work/tree/$rel") ;; esac
done < <(grep -E '^\| [0-9]+ \| `' "$corpus/compose/SOURCES.md")

cat >"$work/tiers.yaml" <<TIERS
tiers:
  fast: { root: $work/fast }
  warm: { root: $work/warm }
  cold: { root: $work/cold }
TIERS

run_once() {
  local start end
  start=$(date +%s%N)
  for f in "${files[@]}"; do
    (cd "$(dirname "$f")" && "$bin" "$command" --offline --tiers "$work/tiers.yaml" -f "$f" >/dev/null 2>&1) || true
  done
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

run_once >/dev/null # warm the page cache
times=()
for _ in 1 2 3 4 5; do times+=("$(run_once)"); done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "$command over the corpus: ${#files[@]} compose files, 5 runs (ms): $sorted"
echo "median: ${median} ms total, $((median * 1000 / ${#files[@]})) us per file (one process per file)"

# Scale: one generated project with 5,000 services (3 mounts each, ~900 KB), and one of ~50 MB
# (the same services padded with environment entries); wall time and max RSS of one audit each.
# A benchmark, not a timed test: `TIERCTL_BENCH_SCALE=0` skips it.
if [ "${TIERCTL_BENCH_SCALE:-1}" != 0 ]; then
  bench/gen-compose.sh "$work/scale5000" 5000 0 2>/dev/null
  bench/gen-compose.sh "$work/scale50mb" 5000 45 2>/dev/null
  for case in scale5000 scale50mb; do
    /usr/bin/time -f "$command $case: %e s wall, %M KB max RSS" \
      "$bin" "$command" --offline --tiers "$work/$case/tiers.yaml" -f "$work/$case/compose.yaml" \
      --format json >/dev/null || true
  done
fi

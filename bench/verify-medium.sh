#!/usr/bin/env bash
# The cost of verifying a copy from the disk (issue 21 item 4): tierctl's copy + verify of a
# named volume (`migrate --stop-first` on an idle service: the copy on the host, its read-back
# from the disk with each file's pages dropped, the verify) against `rsync -a` + `sync` of the
# same data into the same filesystem, in one run. Caches are dropped before each timed run when
# /proc/sys/vm/drop_caches is writable (DROP_CACHES=0 spares the neighbours on a shared machine).
#
# Printed per run: rsync -a + sync, tierctl's copy + verify (from the end of the step before the
# copy to the end of the verify, stamped from tierctl's step lines), tierctl's whole migrate
# (with the stop, rewrite, start and mount check), and the ratio copy+verify / rsync+sync
# (issue 21's target: <= 1.25x). BASELINE_BIN=path adds the same for another tierctl (e.g. the
# release before this change, which read the copy back from the page cache while it synced).
#
# Usage: [TIERCTL_BIN=path] [BASELINE_BIN=path] bench/verify-medium.sh [SIZE_MB] [FILES] [RUNS]
# (default 1024 MB in 4,000 files, 2 runs; needs root, a native Docker engine, the compose CLI,
# rsync; without TIERCTL_BIN it builds the release binary once; a script, not a test).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
files=${2:-4000}
runs=${3:-2}
image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
if [ -n "${TIERCTL_BIN:-}" ]; then bin=$TIERCTL_BIN; else
  cargo build --release --quiet
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
fi
work=$(mktemp -d /var/tmp/tierctl-benchmedium.XXXXXX)
project=tierctlbenchmed$$
volume=${project}_data
app="$work/app"
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
cleanup() {
  [ -f "$app/compose.yaml" ] && (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1) || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

docker volume create "$volume" >/dev/null
per_file_kb=$(( size_mb * 1024 / files ))
docker run --rm -v "$volume:/data" "$image" sh -c "
  i=0; while [ \$i -lt $files ]; do
    d=/data/dir\$(( i % 50 )); mkdir -p \$d
    head -c $(( per_file_kb * 1024 )) /dev/urandom > \$d/f\$i
    i=\$(( i + 1 ))
  done; chown -R 999:999 /data"
src=$(docker volume inspect -f '{{.Mountpoint}}' "$volume")
echo "data: $(du -sh "$src" | cut -f1) in $(find "$src" -type f | wc -l) files; target filesystem: $(df -T "$work" | awk 'NR == 2 { print $2 }')"

# decided once: drop() runs in command substitutions, whose variables do not come back
if [ "${DROP_CACHES:-1}" != 0 ] && [ -w /proc/sys/vm/drop_caches ]; then dropped=yes; else dropped=no; fi
drop() {
  sync
  if [ "$dropped" = yes ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}
# No run's copy is removed before the end: on an ext4 without a journal (this machine's) a new
# inode skips every inode deleted in the last 5 s (300 s while its inode table block is dirty,
# as the next run's creates make it), each skip a buffer lookup: a copy made after another
# run's removal spent 20-40 % of its CPU there (`recently_deleted` under `find_inode_bit`, in a
# profile), whichever tool made it. Each run copies into a fresh directory instead (room for
# one copy per run and tool is needed), all removed at the end.
secs() { awk -v n="$1" 'BEGIN { printf "%.2f", n / 1e9 }'; }

rsync_sync() { # run -> seconds of rsync -a + sync into a fresh directory
  local to="$work/r$1"
  mkdir -p "$to"
  drop
  local start end
  start=$(date +%s%N)
  rsync -a "$src/" "$to/"
  sync -f "$to"
  end=$(date +%s%N)
  secs $(( end - start ))
}

migrate() { # bin run -> "copy+verify total" seconds
  local use=$1 tier="$work/t$2" start
  rm -rf "$app" && mkdir -p "$app" "$tier"
  # the project's volume `data` is $volume (created above, kept by each run as its source)
  printf 'services:\n  app:\n    image: %s\n    command: ["sh", "-c", "trap %s TERM; while true; do sleep 1; done"]\n    volumes:\n      - data:/data\nvolumes:\n  data:\n' \
    "$image" "'exit 0'" >"$app/compose.yaml"
  printf 'tiers:\n  fast: { root: %s }\nplacement:\n  - tier: fast\n    path: "{project}/{volume}"\n' "$tier" >"$app/tiers.yaml"
  (cd "$app" && "${compose[@]}" -p "$project" up -d >/dev/null 2>&1)
  drop
  start=$(date +%s%N)
  # each step's end line ("[n/N] ...  result") stamped with the nanoseconds since the start
  (cd "$app" && COMPOSE_PROJECT_NAME=$project TIERCTL_HELPER_IMAGE=$image "$use" migrate --yes --stop-first 2>&1 >/dev/null |
    while IFS= read -r line; do printf '%s %s\n' "$(( $(date +%s%N) - start ))" "$line"; done >"$work/migrate.log"
   exit "${PIPESTATUS[0]}") || { cat "$work/migrate.log" >&2; exit 1; }
  local total=$(( $(date +%s%N) - start ))
  # the copy runs from the end of the step before it to the end of the verify
  local before verified
  before=$(awk '/^[0-9]+ \[[0-9]+\/[0-9]+\] copy / { print prev; exit } /^[0-9]+ \[[0-9]+\/[0-9]+\] / { prev = $1 }' "$work/migrate.log")
  verified=$(awk '/^[0-9]+ \[[0-9]+\/[0-9]+\] verify copy/ && / ok: / { print $1; exit }' "$work/migrate.log")
  if [ "${BENCH_STEPS:-0}" = 1 ]; then cut -c1-200 "$work/migrate.log" >&2; fi
  (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1)
  # the volume is still the source: the next run moves it again (into another tier root)
  rm -rf "$app/.tierctl"
  echo "$(secs $(( verified - before ))) $(secs "$total")"
}

declare -A best_rsync best_cv
better() { awk -v a="$1" -v b="${2:-}" 'BEGIN { exit !(b == "" || a < b) }'; }
printf '%-10s %-8s %12s %16s %14s %10s\n' run tierctl "rsync+sync s" "copy+verify s" "migrate s" ratio
for n in $(seq 1 "$runs"); do
  for which in this ${BASELINE_BIN:+baseline}; do
    use=$bin
    [ "$which" = baseline ] && use=$BASELINE_BIN
    # rsync right before each migrate: both meet the machine in the same state
    r=$(rsync_sync "$n$which")
    read -r cv total < <(migrate "$use" "$n$which")
    printf '%-10s %-8s %12s %16s %14s %9.2fx   (load %s)\n' "#$n" "$which" "$r" "$cv" "$total" \
      "$(awk -v a="$cv" -v b="$r" 'BEGIN { print a / b }')" "$(cut -d' ' -f1-3 /proc/loadavg)"
    if better "$r" "${best_rsync[$which]:-}"; then best_rsync[$which]=$r; fi
    if better "$cv" "${best_cv[$which]:-}"; then best_cv[$which]=$cv; fi
  done
done
echo
for which in this ${BASELINE_BIN:+baseline}; do
  awk -v w="$which" -v a="${best_cv[$which]}" -v b="${best_rsync[$which]}" -v n="$runs" \
    'BEGIN { printf "best of %d, %-8s copy+verify %6.2f s / rsync -a + sync %6.2f s = %5.2fx\n", n, w, a, b, a / b }'
done
if [ "$dropped" = yes ]; then echo "caches dropped before each run: yes"; else
  echo "caches dropped before each run: NO (drop_caches not writable, or DROP_CACHES=0): warm-cache numbers"; fi
echo "target: copy+verify <= 1.25x rsync -a + sync (issue 21 item 4)"

#!/usr/bin/env bash
# Times `tierctl migrate` against the usual ways to copy the same named volume (host `cp -a`,
# host `rsync -a`, `docker run ... cp -a`, and the peer pipeline `docker run ... cp -a` +
# `rsync -anc`), then migrates a RUNNING service that keeps writing to its volume (a few files
# a second, one file rewritten in place with the same size) in both modes: the default
# (pre-copy while it runs, stop, delta, verify) and `--stop-first` (stop, copy, verify).
#
# Per migrate run it reports the total time, the DOWNTIME measured from the engine's event
# stream (`docker events`: the service's kill -> the start of its new container), and the ratios
# to host `rsync -a`; and it checks that the final copy equals the source as it was at the stop
# (tree manifests of both sides: type, owner, mode, size, mtime, content), minus what the
# restarted service wrote into its own directory afterwards.
#
# Caches are dropped before each run when /proc/sys/vm/drop_caches is writable (root) and
# DROP_CACHES is not 0 (on a shared machine, DROP_CACHES=0 spares the neighbours).
# BASELINE_BIN=path adds a third mode, "baseline": that binary's `migrate --yes` (build the tool
# as it was when the downtime issue was filed, commit c019162, whose migrate stopped the
# services for the whole copy and verify): issue 14's downtime goal is against that.
# Usage: [TIERCTL_BIN=path] [BASELINE_BIN=path] bench/migrate.sh [SIZE_MB] [FILES] [RUNS]   (default 2048 MB in 20,000 files, 2 runs
# of each migrate mode; without TIERCTL_BIN it builds the release binary once; needs root, a Docker engine, the compose CLI, rsync, and twice SIZE_MB
# free; a script, not a test). On the VM engine of tests/vm/harness.sh: bench/migrate-vm.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-2048}
files=${2:-20000}
runs=${3:-2}
image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
if [ -n "${TIERCTL_BIN:-}" ]; then bin=$TIERCTL_BIN; else   # TIERCTL_BIN: a tierctl already built
  cargo build --release --quiet
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
fi
work=$(mktemp -d /var/tmp/tierctl-bench.XXXXXX)
project=tierctlbench$$
volume=${project}_data
app="$work/app"
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
cleanup() {
  [ -f "$app/compose.yaml" ] && (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1) || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A photo-library-like volume: FILES files in 100 directories, SIZE_MB in all, random content.
docker volume rm -f "$volume" >/dev/null 2>&1 || true
docker volume create "$volume" >/dev/null
per_file_kb=$(( size_mb * 1024 / files ))
docker run --rm -v "$volume:/data" "$image" sh -c "
  i=0; while [ \$i -lt $files ]; do
    d=/data/album\$(( i % 100 )); mkdir -p \$d
    head -c $(( per_file_kb * 1024 )) /dev/urandom > \$d/img\$i.jpg
    i=\$(( i + 1 ))
  done; chown -R 999:999 /data"
src=$(docker volume inspect -f '{{.Mountpoint}}' "$volume")
echo "data: $(du -sh "$src" | cut -f1) in $(find "$src" -type f | wc -l) files"

dropped=yes
drop() {
  sync
  if [ "${DROP_CACHES:-1}" != 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
    echo 3 >/proc/sys/vm/drop_caches
  else
    dropped=no
  fi
}
declare -A secs
load() { cut -d' ' -f1-3 /proc/loadavg; }
run() { # name command...
  local name=$1; shift
  rm -rf "$work/t" && mkdir -p "$work/t"
  drop
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  secs[$name]=$(awk -v n=$(( end - start )) 'BEGIN { printf "%.2f", n / 1e9 }')
  printf '%-28s %8s s   (load %s)\n' "$name" "${secs[$name]}" "$(load)"
}

helper() {
  docker run --rm --network none --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE \
    --cap-add FOWNER --cap-add FSETID --security-opt no-new-privileges \
    -v "$volume:/from:ro" -v "$work/t:/to" "$image" cp -a /from/. /to/
}
peer() { helper && rsync -anc --delete --itemize-changes "$src/" "$work/t/"; }

run "host cp -a" cp -a "$src/." "$work/t/"
run "host rsync -a" rsync -a "$src/" "$work/t/"
# what tierctl's copy also does before it trusts the copy: the data on disk, not in the cache
rsync_sync() { rsync -a "$src/" "$work/t/" && sync -f "$work/t"; }
run "host rsync -a + sync" rsync_sync
run "docker run cp -a" helper
run "docker cp -a + rsync -anc" peer

# The writing service: its own directory live-<container> (so what a restarted container writes
# is told apart), a new 4 KiB file every 0.3 s, and `same` rewritten in place, same size.
WRITER='trap "exit 0" TERM; d=/photos/live-$(hostname); mkdir -p $d; head -c 65536 /dev/urandom > $d/same; i=0;
while true; do i=$((i+1)); head -c 4096 /dev/urandom > $d/new$i;
dd if=/dev/urandom of=$d/same bs=4096 count=1 conv=notrunc 2>/dev/null; sleep 0.3; done'

# The tree as a list: type, owner, mode, size, mtime (s), content hash; the root's own entry
# and the restarted container's directory left out.
listing() { # dir exclude
  (cd "$1" && find . -mindepth 1 -path "./$2" -prune -o -printf '%p %y %U:%G %m %s %T@\n' |
    awk '{ split($NF, t, "."); $NF = ($2 == "l" ? "-" : t[1]); print }' | sort
   find . -mindepth 1 -path "./$2" -prune -o -type f -print0 | xargs -0 -r md5sum | sort -k2)
}

migrate() { # mode-args...
  rm -rf "$app" "$work/t" && mkdir -p "$app" "$work/t"
  printf 'services:\n  photos:\n    image: %s\n    command: ["sh", "-c", %s]\n    stop_grace_period: 10s\n    volumes:\n      - data:/photos\nvolumes:\n  data:\n' \
    "$image" "$(printf '%s' "$WRITER" | tr '\n' ' ' | sed 's/\$/$$/g; s/"/\\"/g; s/^/"/; s/$/"/')" >"$app/compose.yaml"
  printf 'tiers:\n  fast: { root: %s }\nplacement:\n  - tier: fast\n    path: "{project}/{volume}"\n' "$work/t" >"$app/tiers.yaml"
  (cd "$app" && "${compose[@]}" -p "$project" up -d >/dev/null 2>&1)
  sleep 2
  drop
  local since start end
  since=$(date +%s.%N)
  start=$(date +%s%N)
  # each line of tierctl's progress stamped with the seconds since the start (BENCH_STEPS=1 prints them)
  (cd "$app" && COMPOSE_PROJECT_NAME=$project TIERCTL_HELPER_IMAGE=$image "$use_bin" migrate --yes "$@" 2>&1 >/dev/null |
    while IFS= read -r line; do
      printf '%8.2f s  %s\n' "$(awk -v n=$(( $(date +%s%N) - start )) 'BEGIN { print n / 1e9 }')" "$line"
    done >"$work/migrate.log"; exit "${PIPESTATUS[0]}") ||
    { cat "$work/migrate.log"; exit 1; }
  if [ "${BENCH_STEPS:-0}" = 1 ]; then cut -c1-220 "$work/migrate.log"; fi
  end=$(date +%s%N)
  total=$(awk -v n=$(( end - start )) 'BEGIN { printf "%.2f", n / 1e9 }')
  # downtime from the engine: the first kill of the service -> the last start
  down=$(docker events --since "$since" --until "$(date +%s.%N)" \
      --filter "label=com.docker.compose.project=$project" --filter type=container \
      --format '{{.TimeNano}} {{.Action}}' |
    awk '$2 == "kill" && !k { k = $1 } $2 == "start" { s = $1 } END { printf "%.2f", (s - k) / 1e9 }')
  said=$(grep -o 'services were down [0-9.]* s' "$work/migrate.log" | head -n 1 || true)
  # integrity: the copy equals the source as it was at the stop (the source is no longer written)
  local new target
  new=live-$(docker ps -q --filter "label=com.docker.compose.project=$project" | head -n 1 |
    xargs docker inspect -f '{{.Config.Hostname}}')
  target=$(find "$work/t" -mindepth 2 -maxdepth 2 -type d | head -n 1)
  if diff <(listing "$src" "$new") <(listing "$target" "$new") >"$work/diff"; then same=equal; else
    same="DIFFERENT ($(wc -l <"$work/diff") lines)"; fi
  (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1)
  rm -rf "$app/.tierctl"
}

echo
printf '%-22s %8s %9s %9s %10s  %-14s %s\n' "migrate, service writing" "total s" "downtime" "total/rsync" "down/rsync" "load average" "copy == source at stop"
declare -A best_down best_total
modes="pre-copy stop-first"
if [ -n "${BASELINE_BIN:-}" ]; then modes="$modes baseline"; fi
for n in $(seq 1 "$runs"); do
  for mode in $modes; do
    use_bin=$bin
    case $mode in
      stop-first) migrate --stop-first ;;
      baseline) use_bin=$BASELINE_BIN; migrate ;;
      *) migrate ;;
    esac
    printf '%-22s %8s %8ss %9.2fx %9.2fx  %-14s %s   (tierctl: %s)\n' "$mode #$n" "$total" "$down" \
      "$(awk -v a="$total" -v b="${secs[host rsync -a]}" 'BEGIN { print a / b }')" \
      "$(awk -v a="$down" -v b="${secs[host rsync -a]}" 'BEGIN { print a / b }')" "$(load)" "$same" "$said"
    if [ -z "${best_down[$mode]:-}" ] || awk -v a="$down" -v b="${best_down[$mode]}" 'BEGIN { exit !(a < b) }'; then
      best_down[$mode]=$down; fi
    if [ -z "${best_total[$mode]:-}" ] || awk -v a="$total" -v b="${best_total[$mode]}" 'BEGIN { exit !(a < b) }'; then
      best_total[$mode]=$total; fi
  done
done

echo
echo "best of $runs: pre-copy downtime ${best_down[pre-copy]} s, stop-first downtime ${best_down[stop-first]} s"
awk -v a="${best_down[pre-copy]}" -v b="${best_down[stop-first]}" \
  'BEGIN { printf "downtime pre-copy / stop-first      %5.2fx  (goal <= 0.10x)\n", a / b }'
if [ -n "${BASELINE_BIN:-}" ]; then
  echo "baseline (BASELINE_BIN, stop-copy-verify when issue 14 was filed): downtime ${best_down[baseline]} s, total ${best_total[baseline]} s"
  awk -v a="${best_down[pre-copy]}" -v b="${best_down[baseline]}" \
    'BEGIN { printf "downtime pre-copy / baseline        %5.2fx  (goal <= 0.10x)\n", a / b }'
fi
awk -v a="${best_total[stop-first]}" -v b="${secs[host rsync -a]}" \
  'BEGIN { printf "stop-first total / host rsync -a    %5.2fx  (goal <= 1.0x; copy + full verify + stop/start)\n", a / b }'
awk -v a="${best_total[stop-first]}" -v b="${secs[host rsync -a + sync]}" \
  'BEGIN { printf "stop-first total / rsync -a + sync  %5.2fx  (the same, against a copy that is on disk too)\n", a / b }'
awk -v a="${best_total[pre-copy]}" -v b="${secs[host rsync -a]}" \
  'BEGIN { printf "pre-copy total / host rsync -a      %5.2fx\n", a / b }'

echo
if [ "$dropped" = yes ]; then echo "caches dropped before each run: yes"; else
  echo "caches dropped before each run: NO (/proc/sys/vm/drop_caches not writable, or DROP_CACHES=0): warm-cache numbers"; fi
for name in "host cp -a" "host rsync -a + sync" "docker run cp -a" "docker cp -a + rsync -anc"; do
  awk -v a="${secs[$name]}" -v b="${secs[host rsync -a]}" -v n="$name" \
    'BEGIN { printf "%-28s %5.2fx host rsync -a\n", n, a / b }'
done

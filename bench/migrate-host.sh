#!/usr/bin/env bash
# Times `tierctl migrate --to-context B` (a running compose project's named volume moved from
# the first engine into a tier directory of the second engine, `.ci/hosts`) against the usual
# hand-made pipe between two engines on the same data:
#
#   docker run ... tar c -C /from . | docker --context B run -i ... tar x -C /to
#
# (no verify, no stop/start: only the copy). tierctl is timed in both modes: `--stop-first`
# (stop, one pass, verify on both engines, compose for B, start on B, verify mounts) and the
# default (pre-copy while A runs and a manifest of the copy on B, stop, the delta: A's stopped
# manifest against it, only what differs sent, then verify, ...). Its own transfer time per
# pass, the delta's bytes of tar, the downtime it reports and the load average (`uptime`) are
# printed with each run. Every run's copy is compared with the source (type, owner, mode, size,
# mtime, content: busybox on each engine). The project is idle while it is pre-copied: the
# delta is (nearly) empty, so the default mode's downtime is the stopped manifest of A, the
# verify on both engines, the stop and the start.
#
# Usage: [TIERCTL_BIN=path] bench/migrate-host.sh [SIZE_MB] [FILES] [RUNS]
# (default 256 MB in 2,500 files, 1 run of each; needs root, both engines (.ci/docker,
# .ci/hosts), docker-compose-v2; DROP_CACHES=0 spares the neighbours on a shared machine)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-256}
files=${2:-2500}
runs=${3:-1}
image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
if [ -n "${TIERCTL_BIN:-}" ]; then bin=$TIERCTL_BIN; else
  cargo build --release --quiet
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
fi
# shellcheck disable=SC1091
. /var/lib/tierctl-engine2/env
b_host="unix://$TIERCTL_ENGINE2_SOCKET"
work=$(mktemp -d /var/tmp/tierctl-benchhost.XXXXXX)
project=tierctlbenchhost$$
context=benchb$$
volume=${project}_data
app="$work/app"
export DOCKER_CONFIG="$work/docker"
mkdir -p "$DOCKER_CONFIG" "$app" "$work/bfast"
docker context create "$context" --docker "host=$b_host" >/dev/null 2>&1
compose=(docker-compose-v2)
cleanup() {
  (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1) || true
  (cd "$app" && DOCKER_HOST=$b_host "${compose[@]}" -p "$project" down >/dev/null 2>&1) || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$app/compose.yaml" <<EOF
services:
  app:
    image: $image
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - data:/data
volumes:
  data:
EOF
cat >"$app/tiers-b.yaml" <<EOF
tiers:
  fast: { root: "$work/bfast" }
placement:
  - tier: fast
    path: "{project}/{volume}"
EOF

# FILES files in 50 directories, SIZE_MB in all, random content, owned by uid 999.
docker volume create "$volume" >/dev/null
per_file_kb=$(( size_mb * 1024 / files ))
docker run --rm -v "$volume:/data" "$image" sh -c "
  i=0; while [ \$i -lt $files ]; do
    d=/data/dir\$(( i % 50 )); mkdir -p \$d
    head -c $(( per_file_kb * 1024 )) /dev/urandom > \$d/f\$i
    i=\$(( i + 1 ))
  done; chown -R 999:999 /data; chmod 0700 /data/dir0"
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
now() { date +%s%N; }
secs() { awk -v n=$(( $2 - $1 )) 'BEGIN { printf "%.2f", n / 1e9 }'; }

listing() { # engine-args mount -> the tree as busybox sees it
  docker "${@:1:$#-1}" run --rm --network none -v "${!#}:/t:ro" "$image" sh -c \
    "cd /t && find . -mindepth 1 -exec stat -c '%f %u %g %s %Y %n' {} + | sort && find . -type f -exec sha256sum {} + | sort" | sha256sum
}
want=$(listing "$volume")
target="$work/bfast/$project/data"
check() { # name
  got=$(listing -H "$b_host" "$target")
  [ "$got" = "$want" ] || { echo "$1: the copy on B differs from the source" >&2; exit 1; }
}
reset() {
  (cd "$app" && DOCKER_HOST=$b_host "${compose[@]}" -p "$project" down >/dev/null 2>&1) || true
  docker -H "$b_host" run --rm --network none -v "$work/bfast:/b" "$image" rm -rf "/b/$project"
  rm -rf "$app/.tierctl" "$app/compose.$context.yaml"
  (cd "$app" && "${compose[@]}" -p "$project" up -d >/dev/null 2>&1)
}

declare -a pipe=() stopfirst=() precopy=() passes=() downs=() downp=()
load() { cut -d' ' -f1-3 /proc/loadavg; }
for r in $(seq 1 "$runs"); do
  reset
  docker -H "$b_host" run --rm --network none -v "$work/bfast:/b" "$image" mkdir -p "/b/$project/data"
  drop
  t0=$(now)
  docker run --rm --network none -v "$volume:/from:ro" "$image" tar c -C /from . |
    docker -H "$b_host" run --rm -i --network none -v "$target:/to" "$image" tar x -p -C /to
  t1=$(now)
  pipe+=("$(secs "$t0" "$t1")")
  echo "run $r: docker tar | docker tar        ${pipe[-1]} s  (load $(load))"

  for mode in --stop-first ""; do
    reset
    drop
    t0=$(now)
    out=$(cd "$app" && COMPOSE_PROJECT_NAME=$project TIERCTL_HELPER_IMAGE=$image "$bin" migrate \
      --to-context "$context" --to-tiers tiers-b.yaml --yes $mode 2>"$work/stderr") ||
      { echo "tierctl $mode failed:" >&2; echo "$out" >&2; cat "$work/stderr" >&2; exit 1; }
    t1=$(now)
    check "tierctl $mode"
    took=$(secs "$t0" "$t1")
    streamed=$(echo "$out" | grep -o 'streamed to `[^`]*` in [0-9.]* s' | grep -o '[0-9.]* s' | tr '\n' ' ')
    delta=$(echo "$out" | grep -o '[0-9]* bytes of tar.* in [0-9.]* s' | sed -E 's/^([0-9]*) bytes of tar.* in ([0-9.]*) s$/\1 B in \2 s/' | head -n 1 || true)
    down=$(echo "$out" | grep -o 'services were down [0-9.]* s' | head -n 1 | grep -o '[0-9.]* s')
    if [ -n "$mode" ]; then stopfirst+=("$took"); downs+=("$down"); else precopy+=("$took"); downp+=("$down"); fi
    passes+=("$streamed")
    printf 'run %s: tierctl %-14s %8s s  (transfer passes: %s; delta: %s; down %s; load %s)\n' "$r" "${mode:-(pre-copy)}" "$took" "$streamed" "${delta:-none}" "$down" "$(load)"
  done
done

best() { printf '%s\n' "$@" | sort -n | head -n 1; }
p=$(best "${pipe[@]}"); s=$(best "${stopfirst[@]}"); c=$(best "${precopy[@]}")
echo
echo "best of $runs (caches dropped: $dropped), $size_mb MB / $files files, engine A -> engine B:"
printf '  docker tar | docker tar (copy only)          %6s s\n' "$p"
printf '  tierctl --to-context --stop-first (all)      %6s s   ratio %s   down %s\n' "$s" "$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.2f", a / b }')" "$(best "${downs[@]}")"
printf '  tierctl --to-context, pre-copy (all)         %6s s   ratio %s   down %s\n' "$c" "$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')" "$(best "${downp[@]}")"
echo "  load average at the end: $(load)"

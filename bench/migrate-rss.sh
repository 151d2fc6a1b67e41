#!/usr/bin/env bash
# Peak memory of `tierctl migrate` on a tree of many small entries (issue 23 item 6), and
# tierctl's own work while the services are down at that size (item 1).
#
# Builds a named volume of ENTRIES entries on the host (where the host migrate path reads it):
# directories of 1,000 entries each, every 50th entry a directory, the rest files of a few
# bytes. A compose service (busybox, sleeping) uses the volume, so the default mode pre-copies
# while it runs. Each mode (`--stop-first`, then the default pre-copy) runs under
# `/usr/bin/time -v` into an empty tier; per run it prints the peak RSS and bytes per entry,
# the total time, the downtime tierctl reports ("services were down"), and its stopped work:
# from the stop step's result line to the start step's (tierctl's progress lines, stamped as
# they arrive), with that per entry. The tree and the tier are deleted at the end.
#
# Usage: [TIERCTL_BIN=path] [MODES="stop-first pre-copy"] [WRAP="heaptrack -o FILE"] bench/migrate-rss.sh [ENTRIES]
# (default 200,000; needs root, a Docker engine, the compose CLI, python3, and ~4 KiB of disk
# per entry and side on a filesystem with 4 KiB blocks: check `df -h /var/tmp` before 1M)
set -euo pipefail
cd "$(dirname "$0")/.."
entries=${1:-200000}
image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
if [ -n "${TIERCTL_BIN:-}" ]; then bin=$TIERCTL_BIN; else
  cargo build --release --quiet
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
fi
work=$(mktemp -d /var/tmp/tierctl-rss.XXXXXX)
project=tierctlrss$$
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
src=$(docker volume inspect -f '{{.Mountpoint}}' "$volume")
t0=$(date +%s%N)
python3 - "$src" "$entries" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
made, d = 1, 0  # the root is an entry
while made < n:
    top = os.path.join(root, "d%04d" % d)
    os.mkdir(top)
    made += 1
    d += 1
    for i in range(min(999, n - made)):
        path = os.path.join(top, "e%03d" % i)
        if i % 50 == 0:
            os.mkdir(path)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"%d\n" % i)
            os.close(fd)
        made += 1
EOF
chown -R 999:999 "$src"
echo "tree: $(find "$src" | wc -l) entries ($(du -sh "$src" | cut -f1)) built in $(awk -v n=$(( $(date +%s%N) - t0 )) 'BEGIN { printf "%.1f", n / 1e9 }') s"

mkdir -p "$app"
cat >"$work/compose.yaml" <<EOF
services:
  app:
    image: $image
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - data:/data
volumes:
  data:
EOF
printf 'tiers:\n  fast: { root: %s }\nplacement:\n  - tier: fast\n    path: "{project}/{volume}"\n' "$work/t" >"$app/tiers.yaml"

load() { cut -d' ' -f1-3 /proc/loadavg; }
run() { # mode-args...
  # each run from the project as written (a migrate rewrites it to bind the tier)
  rm -rf "$work/t" "$app/.tierctl" && mkdir -p "$work/t" && cp "$work/compose.yaml" "$app/compose.yaml"
  (cd "$app" && "${compose[@]}" -p "$project" up -d >/dev/null 2>&1)
  local start
  start=$(date +%s%N)
  # each progress line stamped with the seconds since the start
  (cd "$app" && COMPOSE_PROJECT_NAME=$project TIERCTL_HELPER_IMAGE=$image \
    /usr/bin/time -v -o "$work/time" ${WRAP:-} "$bin" migrate --yes "$@" 2>&1 >/dev/null |
    while IFS= read -r line; do
      printf '%8.2f s  %s\n' "$(awk -v n=$(( $(date +%s%N) - start )) 'BEGIN { print n / 1e9 }')" "$line"
    done >"$work/migrate.log"; exit "${PIPESTATUS[0]}") ||
    { cat "$work/migrate.log" "$work/time"; exit 1; }
  if [ "${BENCH_STEPS:-0}" = 1 ]; then cut -c1-200 "$work/migrate.log"; fi
  local kb wall down stopped
  kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$work/time")
  down=$(grep -o 'services were down [0-9.]* s' "$work/migrate.log" | head -n 1 | grep -o '[0-9.]* s' || echo "? s")
  # the stop step's result line ("[k/n] stop ...  stopped: ...") -> the last line before the
  # start step's (the rewrite's result): delta, verify and rewrite, tierctl's own work while
  # the services are down (in --stop-first mode the copy too)
  stopped=$(awk '{ line = $0; sub(/^ *[0-9.]+ s  /, "", line) }
    line ~ /^\[[0-9]+\/[0-9]+\] stop .*  stopped: / && !s { s = $1 }
    line ~ /^\[[0-9]+\/[0-9]+\] start / && s && !e { e = prev }
    { prev = $1 }
    END { if (s && e) printf "%.2f", e - s; else printf "?" }' "$work/migrate.log")
  printf '%-12s peak RSS %7.1f MB  %6.0f B/entry  total %s  down %s  stopped work %s s (%s us/entry)  load %s\n' \
    "$mode" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$(awk -v k="$kb" -v n="$entries" 'BEGIN { print k * 1024 / n }')" \
    "$wall" "$down" "$stopped" "$(awk -v s="$stopped" -v n="$entries" 'BEGIN { if (s == "?") print "?"; else printf "%.2f", s * 1e6 / n }')" "$(load)"
  (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1)
}

echo "tierctl: $bin; $(uptime)"
for mode in ${MODES:-stop-first pre-copy}; do
  case $mode in
    stop-first) run --stop-first ;;
    pre-copy) run ;;
    *) echo "unknown mode $mode in MODES (stop-first, pre-copy)" >&2; exit 2 ;;
  esac
done

#!/usr/bin/env bash
# The mover while the service runs (issue 25): `tierctl tiers move` against a plain
# `find -mtime +90 | rsync --remove-source-files` mover (what self-hosters script under mergerfs)
# on the same data: FILES old files on the fast branch of a mergerfs pool that tierctl mounts,
# a reader container checking every file through the pool bind (md5sum -c, in a loop) and a
# writer container adding files and holding one old file open for writing (a paused download),
# to which it appends lines once the mover is done.
#
# Printed per mover: files moved, files/s, the reader's passes, reads and failed reads or missing
# paths, bytes checked after the move (every file through the pool and on the cold branch
# against its md5), files lost or changed, and the held file's appended lines kept or lost.
#
# Usage: [TIERCTL_BIN=path] bench/mover.sh [FILES] [KB_PER_FILE]
# (default 10,000 files of 16 KB; needs root, /dev/fuse, mergerfs, rsync, a native Docker engine
# and the helper image; without TIERCTL_BIN it builds the release binary; a script, not a test).
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-10000}
kb=${2:-16}
image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
if [ -n "${TIERCTL_BIN:-}" ]; then bin=$TIERCTL_BIN; else
  cargo build --release --quiet
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
fi
work=$(mktemp -d /var/tmp/tierctl-benchmover.XXXXXX)
tag=tierctl-benchmover-$$
cleanup() {
  docker rm -f "$tag-reader" "$tag-writer" >/dev/null 2>&1 || true
  [ -f "$work/tiers.yaml" ] && "$bin" --tiers "$work/tiers.yaml" tiers pool unmount >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/tiers.yaml" <<YAML
tiers:
  fast: { root: $work/fast }
  cold: { root: $work/cold }
pools:
  media:
    mount: $work/pool
    branches: [fast:media, cold:media]
    create: epff
    move:
      - { name: old, older_than: 90d }
YAML

# one mover's run: fresh data, the pool, reader and writer, the move, the checks
run() {
  local mover=$1
  rm -rf "$work/fast" "$work/cold" "$work/ctl" "$work/pool"
  mkdir -p "$work/fast/media/library" "$work/cold/media" "$work/ctl"
  python3 - "$work/fast/media/library" "$files" "$kb" <<'PY'
import os, sys
root, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(root, "%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%06d.dat" % i)
    with open(p, "wb") as f:
        f.write(os.urandom(kb * 1024))
PY
  echo "line 0" >"$work/fast/media/held.log"
  find "$work/fast/media" -type f -exec touch -d '200 days ago' {} +
  (cd "$work/fast/media" && find library -type f | sort | xargs md5sum >"$work/ctl/sums")
  "$bin" --tiers "$work/tiers.yaml" tiers pool mount >/dev/null
  docker run -d --name "$tag-reader" --network none -v "$work/pool:/lib:ro" -v "$work/ctl:/ctl" "$image" sh -c \
    'cd /lib; while [ ! -f /ctl/stop ]; do md5sum -c /ctl/sums > /ctl/pass.out 2>&1; grep -v ": OK$" /ctl/pass.out >> /ctl/bad.log; grep -c ": OK$" /ctl/pass.out >> /ctl/ok.counts; done; touch /ctl/reader.done' >/dev/null
  docker run -d --name "$tag-writer" --network none -v "$work/pool:/lib" -v "$work/ctl:/ctl" "$image" sh -c \
    'mkdir -p /lib/new; exec 3>>/lib/held.log; i=0; h=0; while [ ! -f /ctl/stop ]; do i=$((i+1)); echo "written $i" > /lib/new/w$i.txt; if [ -f /ctl/moved ]; then h=$((h+1)); echo "line $h" >&3; fi; usleep 5000; done; echo $h > /ctl/held.count; echo $i > /ctl/writer.count' >/dev/null
  while [ ! -s "$work/ctl/ok.counts" ]; do sleep 0.2; done
  local start end
  start=$(date +%s.%N)
  case $mover in
    tierctl) "$bin" --tiers "$work/tiers.yaml" tiers move --format json >"$work/ctl/report.json" || true ;;
    rsync)
      (cd "$work/fast/media" && find . -type f -mtime +90 -print0 |
        rsync -a --from0 --files-from=- --remove-source-files ./ "$work/cold/media/") ;;
  esac
  end=$(date +%s.%N)
  touch "$work/ctl/moved" # the writer appends to the file it held open from now on
  sleep 2 # a last reader pass and a few hundred appends after the move
  touch "$work/ctl/stop"
  while [ ! -f "$work/ctl/reader.done" ] || [ ! -f "$work/ctl/writer.count" ]; do sleep 0.2; done
  docker rm -f "$tag-reader" "$tag-writer" >/dev/null
  local moved passes reads bad pool_bad cold_bad bytes written held_written held_kept
  moved=$(cd "$work/cold/media" && find library -type f | wc -l)
  passes=$(wc -l <"$work/ctl/ok.counts")
  reads=$(awk '{s+=$1} END {print s+0}' "$work/ctl/ok.counts")
  bad=$( (grep -c . "$work/ctl/bad.log" 2>/dev/null) || true)
  pool_bad=$( (cd "$work/pool" && md5sum -c "$work/ctl/sums" 2>&1 | grep -vc ': OK$') || true)
  cold_bad=$( (cd "$work/cold/media" && md5sum -c "$work/ctl/sums" 2>&1 | grep -vc ': OK$') || true)
  bytes=$(cd "$work/pool" && awk '{print $2}' "$work/ctl/sums" | xargs cat | wc -c)
  written=$(cat "$work/ctl/writer.count")
  held_written=$(cat "$work/ctl/held.count")
  held_kept=$(grep -c '^line ' "$work/pool/held.log" || true)
  "$bin" --tiers "$work/tiers.yaml" tiers pool unmount >/dev/null
  awk -v m="$mover" -v n="$files" -v moved="$moved" -v s="$start" -v e="$end" -v p="$passes" -v r="$reads" \
    -v b="${bad:-0}" -v pb="$pool_bad" -v cb="$cold_bad" -v by="$bytes" -v w="$held_written" -v h="$held_kept" \
    'BEGIN { t = e - s; printf "%-8s files %d, moved to cold %d in %.1f s (%.0f files/s); reader: %d passes, %d reads, %d failed or missing; after: %d bytes checked through the pool, %d files lost or changed there, %d not on cold as they were; held file: %d of %d appended lines kept\n", m, n, moved, t, moved / t, p, r, b, by, pb, cb, h, w + 1 }'
}

echo "bench/mover.sh: $files files of $kb KB, reader + writer running, on $(uname -r)"
run tierctl
run rsync

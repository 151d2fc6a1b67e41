#!/usr/bin/env bash
# Issue 23 item 7: the copy on the host of a SIZE_MB volume (written data, no holes, in FILES
# files) within one xfs filesystem, with reflinks (`mkfs.xfs -m reflink=1`: FICLONE) and
# without (`reflink=0`: the byte copy), each followed by the verify (the copy read back from
# the disk, the source read, compared; its own column): the stop-first copy step as tierctl runs it
# (examples/host_copy.rs), and `cp -a` + `sync` on the same data for scale. Each filesystem is
# a sparse image on a loop device under $WORK (default /var/tmp); the no-reflink image needs
# twice SIZE_MB of real room there, the reflink one SIZE_MB. RUNS runs each, interleaved, every
# target emptied (and caches dropped when DROP_CACHES is not 0) between runs.
#
# Usage: [RUNS=2] [DROP_CACHES=1] [WORK=/var/tmp] bench/reflink.sh [SIZE_MB] [FILES]
# (default 10240 MB in 1,000 files: the issue's 10 GiB volume; needs root, losetup, mkfs.xfs)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-10240} files=${2:-1000} runs=${RUNS:-2}
nice -n 10 cargo build --release --locked --quiet --example host_copy
bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/examples/host_copy
work=$(mktemp -d "${WORK:-/var/tmp}/tierctl-reflink.XXXXXX")
devices=()
cleanup() {
  for m in "$work"/mnt-*; do umount "$m" 2>/dev/null || true; done
  for d in "${devices[@]}"; do losetup -d "$d" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# an image of twice the data and room for metadata, sparse
image_mb=$(( size_mb * 2 + size_mb / 8 + 512 ))
for mode in 1 0; do
  truncate -s "${image_mb}M" "$work/xfs-$mode.img"
  dev=$(losetup -f --show "$work/xfs-$mode.img")
  devices+=("$dev")
  mkfs.xfs -q -f -m "reflink=$mode" "$dev"
  mkdir "$work/mnt-$mode"
  mount "$dev" "$work/mnt-$mode"
done

# FILES files of random content, SIZE_MB in all, written on the first image, copied to the
# second with `cp -a` (the same bytes on both)
src1="$work/mnt-1/volume" src0="$work/mnt-0/volume"
mkdir "$src1"
per_file=$(( size_mb * 1024 * 1024 / files ))
for d in $(seq 0 9); do
  mkdir "$src1/d$d"
  n=$(( files / 10 + (d < files % 10 ? 1 : 0) ))
  [ "$n" -gt 0 ] || continue
  head -c $(( per_file * n )) /dev/urandom | (cd "$src1/d$d" && split -a 5 -d -b "$per_file" - f)
done
cp -a "$src1" "$src0"
sync

drop() {
  sync
  if [ "${DROP_CACHES:-1}" != 0 ] && [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}
echo "reflink bench: $size_mb MB in $files files on loop-mounted xfs, $runs run(s) each; $(uptime | sed 's/.*load/load/')"
printf '%-28s %9s %9s %9s %s\n' way copy_s verify_s total_s shared
for run in $(seq 1 "$runs"); do
  for way in tierctl-reflink tierctl-no-reflink cp-a-reflink-fs cp-a-no-reflink-fs; do
    case $way in
      *-no-reflink*) mnt=$work/mnt-0 ;;
      *) mnt=$work/mnt-1 ;;
    esac
    rm -rf "$mnt/tier"; mkdir "$mnt/tier"
    drop
    case $way in
      tierctl-*)
        mkdir "$mnt/tier/volume"
        line=$("$bin" "$mnt/volume" "$mnt/tier/volume" 2>&1 || true)
        copy=$(sed -n 's/.*copy_s=\([0-9.]*\).*/\1/p' <<<"$line")
        verify=$(sed -n 's/.*verify_s=\([0-9.]*\).*/\1/p' <<<"$line")
        shared=$(sed -n 's/.*\(shared_files=[0-9]* shared_bytes=[0-9]*\).*/\1/p' <<<"$line")
        [ -n "$copy" ] || { echo "host_copy failed: $line" >&2; exit 1; }
        ;;
      cp-a-*)
        start=$(date +%s.%N)
        cp -a "$mnt/volume" "$mnt/tier/volume"
        sync -f "$mnt/tier"
        copy=$(printf '%.3f' "$(echo "$(date +%s.%N) - $start" | bc)")
        verify=- shared="(cp's own default: --reflink=auto)"
        ;;
    esac
    total=$([ "$verify" = - ] && echo "$copy" || printf '%.3f' "$(echo "$copy + $verify" | bc)")
    printf '%-28s %9s %9s %9s %s\n' "$way" "$copy" "$verify" "$total" "$shared"
  done
done
echo "load after: $(uptime | sed 's/.*load/load/')"

#!/usr/bin/env bash
# Times `tierctl migrate` (helper-container copy + full BLAKE3 verification of both trees)
# against the usual ways to copy the same named volume: host `cp -a`, host `rsync -a`,
# `docker run ... cp -a`, and the peer pipeline `docker run ... cp -a` + `rsync -anc` (check).
# Caches are dropped before each run when /proc/sys/vm/drop_caches is writable (root).
# Usage: bench/migrate.sh [SIZE_MB] [FILES]   (default 2048 MB in 20,000 files; needs root,
# a Docker engine, rsync, and twice SIZE_MB free; a script, not a test)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-2048}
files=${2:-20000}
image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
cargo build --release --quiet
bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
work=$(mktemp -d /var/tmp/tierctl-bench.XXXXXX)
project=tierctlbench
volume=${project}_data
cleanup() {
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

drop() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; else dropped=no; fi
}
dropped=yes
declare -A secs
run() { # name command...
  local name=$1; shift
  rm -rf "$work/t" && mkdir -p "$work/t"
  drop
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  secs[$name]=$(awk -v n=$(( end - start )) 'BEGIN { printf "%.2f", n / 1e9 }')
  printf '%-28s %8s s\n' "$name" "${secs[$name]}"
}

helper() {
  docker run --rm --network none --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE \
    --cap-add FOWNER --cap-add FSETID --security-opt no-new-privileges \
    -v "$volume:/from:ro" -v "$work/t:/to" "$image" cp -a /from/. /to/
}
peer() { helper && rsync -anc --delete --itemize-changes "$src/" "$work/t/"; }

migrate() {
  local app="$work/app"
  rm -rf "$app" && mkdir -p "$app"
  printf 'services:\n  photos:\n    image: %s\n    volumes:\n      - data:/photos\nvolumes:\n  data:\n' "$image" >"$app/compose.yaml"
  printf 'tiers:\n  fast: { root: %s }\nplacement:\n  - tier: fast\n    path: "{project}/{volume}"\n' "$work/t" >"$app/tiers.yaml"
  (cd "$app" && COMPOSE_PROJECT_NAME=$project TIERCTL_HELPER_IMAGE=$image "$bin" migrate --yes)
}

run "host cp -a" cp -a "$src/." "$work/t/"
run "host rsync -a" rsync -a "$src/" "$work/t/"
run "docker run cp -a" helper
run "docker cp -a + rsync -anc" peer
run "tierctl migrate (+verify)" migrate

echo
echo "caches dropped before each run: $dropped"
for name in "host cp -a" "docker run cp -a" "docker cp -a + rsync -anc" "tierctl migrate (+verify)"; do
  awk -v a="${secs[$name]}" -v b="${secs[host rsync -a]}" -v n="$name" \
    'BEGIN { printf "%-28s %5.2fx host rsync -a\n", n, a / b }'
done
awk -v a="${secs[tierctl migrate (+verify)]}" -v b="${secs[docker cp -a + rsync -anc]}" \
  'BEGIN { printf "%-28s %5.2fx the peer pipeline\n", "tierctl migrate (+verify)", a / b }'

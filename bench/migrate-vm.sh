#!/usr/bin/env bash
# Times `tierctl migrate` on the VM engine of tests/vm/harness.sh (a QEMU VM whose dockerd sees
# host directories over virtio-9p, dressed up as Colima; `sudo bash .ci/vm up` boots it) against
# the plain container copy in the same VM: `docker run ... cp -a` of the same named volume (on the
# VM's disk) into a directory on the same share. Goal (issue 13): copy + full verify <= 1.5x the
# plain container copy.
#
# Per share it prints: the plain copy; a `docker run ... true` (what one container costs in this
# VM); and `tierctl migrate --stop-first`: its total, its copy step, its verify step (read from
# the time each step's line appears on stderr) and the ratio (copy + verify) / plain copy. With
# --stop-first on a VM one helper container measures, copies and reads both trees (the copy step
# holds all of it; the verify step only compares): the verify line says where each tree was read:
# the volume by the copy helper inside the VM (only its manifest crosses), the copy listed by the
# copy helper and its content hashed on the host (a mapped-xattr share: the engine's listing is
# the one verified, the line says what the host sees differently).
#
# Under TCG (no hardware KVM) the VM is slow (seconds per container, a few MiB/s through 9p):
# keep the data small. Usage: [TIERCTL_BIN=path] [SHARES="passthrough tiers"]
#   bench/migrate-vm.sh [SIZE_MB] [FILES] [RUNS]   (default 8 MB in 200 files, 1 run; needs root,
#   the VM up, the compose CLI; a script, not a test; exit 77 without a VM)
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=${TIERCTL_VM_ENV:-/run/tierctl-vm/env}
[ -r "$env_file" ] || { echo "SKIP: no VM env file $env_file (sudo bash .ci/vm up)"; exit 77; }
# shellcheck disable=SC1090
. "$env_file"
size_mb=${1:-8}
files=${2:-200}
runs=${3:-1}
shares=${SHARES:-passthrough tiers}
image=$TIERCTL_VM_HELPER_IMAGE
export DOCKER_CONFIG=$TIERCTL_VM_DOCKER_CONFIG COLIMA_HOME=$TIERCTL_VM_COLIMA_HOME
unset DOCKER_HOST DOCKER_CONTEXT COLIMA_PROFILE
if [ -n "${TIERCTL_BIN:-}" ]; then bin=$TIERCTL_BIN; else # TIERCTL_BIN: a tierctl already built
  cargo build --release --quiet
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/tierctl
fi
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
project=tierctlbenchvm$$
volume=${project}_data
app=$(mktemp -d /var/tmp/tierctl-bench-vm.XXXXXX)
dirs=()
cleanup() {
  [ -f "$app/compose.yaml" ] && (cd "$app" && "${compose[@]}" -p "$project" down -t 1 >/dev/null 2>&1) || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$app" "${dirs[@]}"
}
trap cleanup EXIT

share_dir() { # name -> a fresh directory on that share
  local root
  case $1 in
    passthrough) root=$TIERCTL_VM_SHARE_PASSTHROUGH ;;
    tiers) root=$TIERCTL_VM_SHARE ;;
    *) echo "unknown share $1 (passthrough, tiers)" >&2; exit 2 ;;
  esac
  mktemp -d "$root/bench.XXXXXX"
}

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
now() { date +%s.%N; }

# A database-like volume: FILES files in 10 directories, SIZE_MB in all, random content, uid 999.
seed() {
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  docker volume create "$volume" >/dev/null
  docker run --rm --network none -v "$volume:/data" "$image" sh -c "
    i=0; while [ \$i -lt $files ]; do
      d=/data/base\$(( i % 10 )); mkdir -p \$d
      head -c $(( size_mb * 1024 * 1024 / files )) /dev/urandom > \$d/\$i
      i=\$(( i + 1 ))
    done; ln -s base0/0 /data/current; chown -R 999:999 /data; chmod 0700 /data/base0"
}

plain_copy() { # target
  docker run --rm --network none --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE \
    --cap-add FOWNER --cap-add FSETID --security-opt no-new-privileges \
    -v "$volume:/from:ro" -v "$1:/to" "$image" sh -c 'cp -a /from/. /to/ && sync'
}

# tierctl migrate --stop-first of the volume into a tier on the share; each stderr line stamped
migrate() { # tier-root
  rm -rf "$app/.tierctl"
  printf 'services:\n  db:\n    image: %s\n    command: ["sh", "-c", "trap '"'"'exit 0'"'"' TERM; while true; do sleep 1; done"]\n    volumes:\n      - data:/data\nvolumes:\n  data:\n' \
    "$image" >"$app/compose.yaml"
  printf 'tiers:\n  fast: { root: "%s" }\nplacement:\n  - tier: fast\n    path: "{project}/{volume}"\n' "$1" >"$app/tiers.yaml"
  (cd "$app" && "${compose[@]}" -p "$project" up -d >/dev/null 2>&1)
  local start end
  start=$(now)
  (cd "$app" && COMPOSE_PROJECT_NAME=$project TIERCTL_HELPER_IMAGE=$image "$bin" migrate --yes --stop-first 2>&1 >/dev/null |
    while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done >"$app/migrate.log") ||
    { cat "$app/migrate.log"; exit 1; }
  end=$(now)
  grep -q ' done\.' "$app/migrate.log" || { cat "$app/migrate.log"; exit 1; }
  total=$(secs "$start" "$end")
  # a step's time: from the line before its own to its own
  copy=$(awk '/^[0-9.]+ \[[0-9]+\/[0-9]+\] copy / { printf "%.1f", $1 - prev } /^[0-9.]+ \[/ { prev = $1 }' "$app/migrate.log")
  verify=$(awk '/^[0-9.]+ \[[0-9]+\/[0-9]+\] verify copy / { printf "%.1f", $1 - prev } /^[0-9.]+ \[/ { prev = $1 }' "$app/migrate.log")
  read_line=$(grep -o 'source read .*' "$app/migrate.log" | head -n 1 | cut -c1-400)
  (cd "$app" && "${compose[@]}" -p "$project" down -t 1 >/dev/null 2>&1)
}

echo "VM: accel $TIERCTL_VM_ACCEL, engine $TIERCTL_VM_HOST; data: $size_mb MB in $files files (uid 999), $runs run(s)"
t0=$(now); docker run --rm --network none "$image" true; t1=$(now)
echo "docker run ... true: $(secs "$t0" "$t1") s"
printf '%-12s %8s %8s %8s %8s %8s  %s\n' share "plain s" "total s" "copy s" "verify s" "ratio" "(copy+verify)/plain"
for n in $(seq 1 "$runs"); do
  for share in $shares; do
    seed
    plain=$(share_dir "$share"); dirs+=("$plain")
    t0=$(now); plain_copy "$plain"; t1=$(now)
    plain_s=$(secs "$t0" "$t1")
    tier=$(share_dir "$share"); dirs+=("$tier")
    migrate "$tier"
    ratio=$(awk -v c="$copy" -v v="$verify" -v p="$plain_s" 'BEGIN { printf "%.2fx", (c + v) / p }')
    printf '%-12s %8s %8s %8s %8s %8s  #%s\n' "$share" "$plain_s" "$total" "$copy" "$verify" "$ratio" "$n"
    echo "  verify: $read_line"
  done
done

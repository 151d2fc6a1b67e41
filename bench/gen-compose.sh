#!/usr/bin/env bash
# Writes a large compose project for the scale benchmarks: SERVICES services, each with a bind
# under a tier, a named volume and a relative bind, and ENV_LINES environment entries of padding
# (to grow the file without adding mounts), plus a tiers.yaml beside it.
#   bench/gen-compose.sh DIR SERVICES [ENV_LINES]
# 5,000 services and 0 env lines is ~900 KB; 5,000 services and 45 env lines is ~50 MB.
set -euo pipefail
dir=${1:?usage: gen-compose.sh DIR SERVICES [ENV_LINES]}
services=${2:?usage: gen-compose.sh DIR SERVICES [ENV_LINES]}
env_lines=${3:-0}
mkdir -p "$dir/fast" "$dir/warm" "$dir/cold"
dir=$(cd "$dir" && pwd)
cat >"$dir/tiers.yaml" <<TIERS
tiers:
  fast: { root: $dir/fast }
  warm: { root: $dir/warm }
  cold: { root: $dir/cold }
TIERS
awk -v n="$services" -v e="$env_lines" -v root="$dir" 'BEGIN {
  print "services:"
  for (i = 0; i < n; i++) {
    printf "  svc%d:\n    image: postgres:16\n", i
    if (e > 0) {
      print "    environment:"
      for (j = 0; j < e; j++) printf "      PAD_%d: \"%0200d\"\n", j, j
    }
    printf "    volumes:\n      - %s/warm/app%d:/data\n      - vol%d:/var/lib/postgresql/data\n      - ./conf%d:/etc/app:ro\n", root, i, i, i
  }
  print "volumes:"
  for (i = 0; i < n; i++) printf "  vol%d: {}\n", i
}' >"$dir/compose.yaml"
ls -l "$dir/compose.yaml" >&2

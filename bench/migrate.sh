#!/usr/bin/env bash
# Times `tierctl migrate` against the usual ways to copy the same named volume (host `cp -a`,
# host `rsync -a`, `rsync -a` + `sync`, the copy tools `cpz` and `xcp` (crates.io), `docker run
# ... cp -a`, and the peer pipeline `docker run ... cp -a` + `rsync -anc`), then migrates a
# RUNNING service that keeps writing to its volume (a few files a second, one file rewritten in
# place with the same size) and serves files from it over HTTP, in both modes: the default
# (pre-copy while it runs, stop, delta, verify) and `--stop-first` (stop, copy, verify).
#
# Per migrate run it reports the total time, the DOWNTIME measured from the engine's event
# stream (`docker events`: the service's kill -> the start of its new container), the downtime
# a CLIENT sees, and the ratios to host `rsync -a`; and it checks that the final copy equals the
# source as it was at the stop (tree manifests of both sides: type, owner, mode, size, mtime,
# content), minus what the restarted service wrote into its own directory afterwards.
#
# The client: the service runs busybox `httpd` on its volume's www/ directory, published on
# 127.0.0.1 only; a poller (a bash loop over bash's /dev/tcp, no process per request, so it
# keeps its pace on a loaded machine: one HTTP GET every 50 ms, each read given 1 s, each
# request stamped with bash's $EPOCHREALTIME, microseconds) requests www/probe.txt during the
# whole migrate and until the restarted service answers again. A request fails unless it gets
# 200 and the file's content. The client downtime is the longest window of failed requests:
# from the first failed request's start to the start of the next answered one (so within one
# poll period, 50 ms plus a request, of the truth). After the move the served file must equal
# the migrated copy's (curl), and a marker file written into the tier directory on the host must be
# served: the restarted service serves the tier, not the old volume.
#
# The copy tools: `cpz` copies content and modes (not owners, not times), `xcp -o` content,
# modes, times and owners, `cp -a` and `rsync -a` all of those. Each is looked up on PATH, in
# target/bench-tools/bin and in ~/.cargo/bin; a missing one is SKIPPED with a line saying so
# and how to install it (`cargo install --locked --root target/bench-tools cpz xcp`). For each
# `--stop-first` run the script also prints tierctl's copy step (from the stamp of the line
# before the copy step's result line to that line's stamp: on the host that is the parallel
# copy, its sync, and the read-back hash of the copy) and its ratio to `cpz` (issue 23 item 5).
#
# Caches are dropped before each run when /proc/sys/vm/drop_caches is writable (root) and
# DROP_CACHES is not 0 (on a shared machine, DROP_CACHES=0 spares the neighbours).
# BASELINE_BIN=path adds a third mode, "baseline": that binary's `migrate --yes` (build the tool
# as it was when the downtime issue was filed, commit c019162, whose migrate stopped the
# services for the whole copy and verify): issue 14's downtime goal is against that.
# MODES="stop-first" (or "pre-copy") runs only those migrate modes (default: both).
# Usage: [TIERCTL_BIN=path] [BASELINE_BIN=path] [MODES=...] bench/migrate.sh [SIZE_MB] [FILES] [RUNS]
#        [TIERCTL_BIN=path] ... bench/migrate.sh small-files [RUNS]   (1024 MB in 100,000 files)
# (default 2048 MB in 20,000 files, 2 runs of each migrate mode; without TIERCTL_BIN it builds
# the release binary once; needs root, a Docker engine, the compose CLI, rsync, curl, and twice
# SIZE_MB free; a script, not a test). On the VM engine of tests/vm/harness.sh:
# bench/migrate-vm.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = small-files ]; then   # the small-files shape of issue 23 item 5
  size_mb=1024 files=100000 runs=${2:-2}
else
  size_mb=${1:-2048} files=${2:-20000} runs=${3:-2}
fi
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
poller=
cleanup() {
  if [ -n "$poller" ]; then kill "$poller" 2>/dev/null || true; fi
  [ -f "$app/compose.yaml" ] && (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1) || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A photo-library-like volume: FILES files in 100 directories, SIZE_MB in all, random content
# (written on the host, one `split` per directory: 100,000 files take seconds, not a process
# each), and www/probe.txt, the file the client requests.
docker volume rm -f "$volume" >/dev/null 2>&1 || true
docker volume create "$volume" >/dev/null
src=$(docker volume inspect -f '{{.Mountpoint}}' "$volume")
per_file=$(( size_mb * 1024 * 1024 / files ))
for d in $(seq 0 99); do
  n=$(( files / 100 + (d < files % 100 ? 1 : 0) ))
  mkdir "$src/album$d"
  if [ "$n" -gt 0 ]; then
    head -c $(( n * per_file )) /dev/urandom |
      split -b "$per_file" -a 6 -d --additional-suffix=.jpg - "$src/album$d/img"
  fi
done
mkdir "$src/www"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$src/www/probe.txt"
echo >>"$src/www/probe.txt"
chown -R 999:999 "$src"
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
# the copy tools of issue 23 item 5, each into a directory of its own that it creates
tool() { # name -> its path, or nothing
  command -v "$1" 2>/dev/null && return
  local dir
  for dir in "${CARGO_TARGET_DIR:-target}/bench-tools/bin" "$HOME/.cargo/bin"; do
    if [ -x "$dir/$1" ]; then echo "$(cd "$dir" && pwd)/$1"; return; fi
  done
}
cpz=$(tool cpz) xcp=$(tool xcp)
skipped() { # name
  printf '%-28s SKIPPED: not installed (cargo install --locked --root target/bench-tools %s)\n' "$1" "$1"
}
if [ -n "$cpz" ]; then run "cpz" "$cpz" "$src" "$work/t/data"; else skipped cpz; fi
if [ -n "$xcp" ]; then run "xcp -o" "$xcp" -r -o --no-progress "$src" "$work/t/data"; else skipped xcp; fi
# what tierctl's copy also does before it trusts the copy: the data on disk, not in the cache
rsync_sync() { rsync -a "$src/" "$work/t/" && sync -f "$work/t"; }
run "host rsync -a + sync" rsync_sync
run "docker run cp -a" helper
run "docker cp -a + rsync -anc" peer

# The writing service: its own directory live-<container> (so what a restarted container writes
# is told apart), a new 4 KiB file every 0.3 s, and `same` rewritten in place, same size; and
# busybox httpd serving www/ of the volume to the client.
WRITER='trap "exit 0" TERM; httpd -f -p 8080 -h /photos/www & d=/photos/live-$(hostname); mkdir -p $d;
head -c 65536 /dev/urandom > $d/same; i=0;
while true; do i=$((i+1)); head -c 4096 /dev/urandom > $d/new$i;
dd if=/dev/urandom of=$d/same bs=4096 count=1 conv=notrunc 2>/dev/null; sleep 0.3; done'

# The client's port on 127.0.0.1 (and only there): one nobody listens on.
port=
for p in $(shuf -i 20000-39999 -n 100); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port on 127.0.0.1 for the client" >&2; exit 1; }
url=http://127.0.0.1:$port
probe=$(cat "$src/www/probe.txt")
us() { echo "${EPOCHREALTIME//[!0-9]/}"; } # now, in microseconds

# The client, all in bash builtins (no process per request, so the 50 ms hold on a loaded
# machine): one HTTP/1.0 GET of www/probe.txt every 50 ms (50 ms after the last one began; at
# once when that one took longer), over bash's /dev/tcp, each read given 1 s; a line per
# request: its start and end ($EPOCHREALTIME, microseconds) and 1 when it got 200 and the
# file's content, else 0.
request() { # on fd 3, a connection
  local status line last= rc
  printf 'GET /probe.txt HTTP/1.0\r\n\r\n' >&3 || return 1
  IFS= read -r -t 1 -u 3 status || return 1
  while :; do
    IFS= read -r -t 1 -u 3 line && rc=0 || rc=$?
    if [ "$rc" = 0 ]; then last=$line; else break; fi
  done
  # rc 1: the end of the response (a timeout is > 128)
  [ "$rc" = 1 ] && [[ $status == "HTTP/1."?" 200 "* ]] && [ "$last" = "$probe" ]
}
poll() {
  local t0 t1 ok wait
  trap '' PIPE # a write to a connection the proxy reset fails the request, not the poller
  mkfifo "$work/tick"
  exec 4<>"$work/tick" # nobody writes it: a `read -t` on it sleeps without a process
  while :; do
    t0=${EPOCHREALTIME//[!0-9]/}
    if request 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$port"; then ok=1; else ok=0; fi
    t1=${EPOCHREALTIME//[!0-9]/}
    echo "$t0 $t1 $ok"
    wait=$(( t0 + 50000 - ${EPOCHREALTIME//[!0-9]/} ))
    if [ "$wait" -gt 0 ]; then
      printf -v wait '0.%06d' "$wait"
      read -r -t "$wait" -u 4 || true
    fi
  done
}
answered() { # log after-us seconds: a request that began after after-us answered within seconds
  local deadline=$(( $(us) + $3 * 1000000 ))
  while [ "$(us)" -lt "$deadline" ]; do
    awk -v a="$2" '$1 > a && $3 == 1 { f = 1 } END { exit !f }' "$1" && return 0
    sleep 0.1
  done
  return 1
}
# the longest run of failed requests: its first request's start -> the next answered one's start
# (seconds), and how many requests failed in all
client_down() { # log
  awk '$3 == 0 { failed++; if (!f) f = $1 }
       $3 == 1 && f { if ($1 - f > w) w = $1 - f; f = 0 }
       END { printf "%.2f %d\n", w / 1e6, failed }' "$1"
}

# The tree as a list: type, owner, mode, size, mtime (s), content hash; the root's own entry
# and the restarted container's directory left out.
listing() { # dir exclude
  (cd "$1" && find . -mindepth 1 -path "./$2" -prune -o -printf '%p %y %U:%G %m %s %T@\n' |
    awk '{ split($NF, t, "."); $NF = ($2 == "l" ? "-" : t[1]); print }' | sort
   find . -mindepth 1 -path "./$2" -prune -o -type f -print0 | xargs -0 -r md5sum | sort -k2)
}

# Does the restarted service serve the migrated data: the file the client requests as the copy
# holds it, and a marker written into the tier directory on the host after the move.
served() { # target
  local marker=bench-marker-$$
  head -c 4096 /dev/urandom >"$1/www/$marker"
  if ! cmp -s <(curl -s --max-time 5 "$url/probe.txt") "$1/www/probe.txt"; then
    echo "NOT the copy's probe.txt"
  elif ! cmp -s <(curl -s --max-time 5 "$url/$marker") "$1/www/$marker"; then
    echo "NOT the tier (a marker written there is not served)"
  else
    echo "the tier"
  fi
  rm -f "$1/www/$marker"
}

migrate() { # mode-args...
  rm -rf "$app" "$work/t" "$work/tick" && mkdir -p "$app" "$work/t"
  printf 'services:\n  photos:\n    image: %s\n    command: ["sh", "-c", %s]\n    stop_grace_period: 10s\n    ports:\n      - "127.0.0.1:%s:8080"\n    volumes:\n      - data:/photos\nvolumes:\n  data:\n' \
    "$image" "$(printf '%s' "$WRITER" | tr '\n' ' ' | sed 's/\$/$$/g; s/"/\\"/g; s/^/"/; s/$/"/')" "$port" >"$app/compose.yaml"
  printf 'tiers:\n  fast: { root: %s }\nplacement:\n  - tier: fast\n    path: "{project}/{volume}"\n' "$work/t" >"$app/tiers.yaml"
  (cd "$app" && "${compose[@]}" -p "$project" up -d >/dev/null 2>&1)
  sleep 2
  poll >"$work/client.log" &
  poller=$!
  answered "$work/client.log" 0 20 || { echo "the service never answered on $url" >&2; exit 1; }
  drop
  local since start end end_us
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
  end_us=$(us)
  total=$(awk -v n=$(( end - start )) 'BEGIN { printf "%.2f", n / 1e9 }')
  # the client's view: until the restarted service answers again (30 s at most)
  if answered "$work/client.log" "$end_us" 30; then
    read -r client failed < <(client_down "$work/client.log")
    failed="$failed failed requests"
  else
    client=never failed="no answer within 30 s after the migrate"
  fi
  kill "$poller" && wait "$poller" 2>/dev/null || true
  poller=
  # downtime from the engine: the first kill of the service -> the last start
  down=$(docker events --since "$since" --until "$(date +%s.%N)" \
      --filter "label=com.docker.compose.project=$project" --filter type=container \
      --format '{{.TimeNano}} {{.Action}}' |
    awk '$2 == "kill" && !k { k = $1 } $2 == "start" { s = $1 } END { printf "%.2f", (s - k) / 1e9 }')
  said=$(grep -o 'services were down [0-9.]* s' "$work/migrate.log" | head -n 1 || true)
  # tierctl's copy step: from the result line of the step before it to its own (a result line
  # is "[k/n] label  result"; a progress line is "[k/n] label: ..." or "[k/n] label (...)")
  copy_step=$(awk '{ line = $0; sub(/^ *[0-9.]+ s  /, "", line) }
    line ~ /^\[[0-9]+\/[0-9]+\] / && line ~ /[^ ]  [^ ]/ {
      if (line ~ /^\[[0-9]+\/[0-9]+\] copy / && !done) { printf "%.2f", $1 - prev; done = 1 }
      prev = $1 }' "$work/migrate.log")
  # integrity: the copy equals the source as it was at the stop (the source is no longer written)
  local new target
  new=live-$(docker ps -q --filter "label=com.docker.compose.project=$project" | head -n 1 |
    xargs docker inspect -f '{{.Config.Hostname}}')
  target=$(find "$work/t" -mindepth 2 -maxdepth 2 -type d | head -n 1)
  if diff <(listing "$src" "$new") <(listing "$target" "$new") >"$work/diff"; then same=equal; else
    same="DIFFERENT ($(wc -l <"$work/diff") lines)"; fi
  serves=$(served "$target")
  (cd "$app" && "${compose[@]}" -p "$project" down >/dev/null 2>&1)
  rm -rf "$app/.tierctl"
}

echo
printf '%-22s %8s %9s %9s %9s %10s  %-14s %s\n' "migrate, service writing" "total s" "downtime" "client" "total/rsync" "down/rsync" "load average" "copy == source at stop; served"
declare -A best_down best_total best_client
best_copy=
modes=${MODES:-pre-copy stop-first}
if [ -n "${BASELINE_BIN:-}" ]; then modes="$modes baseline"; fi
for n in $(seq 1 "$runs"); do
  for mode in $modes; do
    use_bin=$bin
    case $mode in
      stop-first) migrate --stop-first ;;
      baseline) use_bin=$BASELINE_BIN; migrate ;;
      pre-copy) migrate ;;
      *) echo "unknown mode $mode in MODES (pre-copy, stop-first)" >&2; exit 2 ;;
    esac
    steps="tierctl: $said"
    if [ "$mode" = stop-first ] && [ -n "$copy_step" ]; then
      steps="$steps; copy step $copy_step s"
      if [ -z "$best_copy" ] || awk -v a="$copy_step" -v b="$best_copy" 'BEGIN { exit !(a < b) }'; then
        best_copy=$copy_step; fi
    fi
    printf '%-22s %8s %8ss %8ss %9.2fx %9.2fx  %-14s %s; %s   (client: %s; %s)\n' "$mode #$n" "$total" "$down" \
      "$client" "$(awk -v a="$total" -v b="${secs[host rsync -a]}" 'BEGIN { print a / b }')" \
      "$(awk -v a="$down" -v b="${secs[host rsync -a]}" 'BEGIN { print a / b }')" "$(load)" "$same" "$serves" \
      "$failed" "$steps"
    if [ -z "${best_down[$mode]:-}" ] || awk -v a="$down" -v b="${best_down[$mode]}" 'BEGIN { exit !(a < b) }'; then
      best_down[$mode]=$down; fi
    if [ -z "${best_total[$mode]:-}" ] || awk -v a="$total" -v b="${best_total[$mode]}" 'BEGIN { exit !(a < b) }'; then
      best_total[$mode]=$total; fi
    if [ "$client" != never ] && { [ -z "${best_client[$mode]:-}" ] ||
        awk -v a="$client" -v b="${best_client[$mode]}" 'BEGIN { exit !(a < b) }'; }; then
      best_client[$mode]=$client; fi
  done
done

echo
echo "$size_mb MB in $files files, best of $runs:"
for mode in $modes; do
  printf '  %-12s downtime %6s s as the engine sees it (kill -> start), %6s s as a client sees it (longest failed window, 50 ms polls)\n' \
    "$mode" "${best_down[$mode]}" "${best_client[$mode]:-never}"
done
if [ -n "${best_down[pre-copy]:-}" ] && [ -n "${best_down[stop-first]:-}" ]; then
  awk -v a="${best_down[pre-copy]}" -v b="${best_down[stop-first]}" \
    'BEGIN { printf "downtime pre-copy / stop-first      %5.2fx  (goal <= 0.10x)\n", a / b }'
fi
if [ -n "${BASELINE_BIN:-}" ]; then
  echo "baseline (BASELINE_BIN, stop-copy-verify when issue 14 was filed): downtime ${best_down[baseline]} s, total ${best_total[baseline]} s"
  awk -v a="${best_down[pre-copy]}" -v b="${best_down[baseline]}" \
    'BEGIN { printf "downtime pre-copy / baseline        %5.2fx  (goal <= 0.10x)\n", a / b }'
fi
if [ -n "${best_total[stop-first]:-}" ]; then
  awk -v a="${best_total[stop-first]}" -v b="${secs[host rsync -a]}" \
    'BEGIN { printf "stop-first total / host rsync -a    %5.2fx  (goal <= 1.0x; copy + full verify + stop/start)\n", a / b }'
  awk -v a="${best_total[stop-first]}" -v b="${secs[host rsync -a + sync]}" \
    'BEGIN { printf "stop-first total / rsync -a + sync  %5.2fx  (the same, against a copy that is on disk too)\n", a / b }'
fi
if [ -n "$best_copy" ] && [ -n "${secs[cpz]:-}" ]; then
  awk -v a="$best_copy" -v b="${secs[cpz]}" \
    'BEGIN { printf "stop-first copy step / cpz          %5.2fx  (goal <= 1.0x at 1 GiB / 100k files; the step syncs and hashes the copy back, cpz does neither)\n", a / b }'
elif [ -n "$best_copy" ]; then
  echo "stop-first copy step / cpz          SKIPPED: cpz not installed (cargo install --locked --root target/bench-tools cpz)"
fi
if [ -n "${best_total[pre-copy]:-}" ]; then
  awk -v a="${best_total[pre-copy]}" -v b="${secs[host rsync -a]}" \
    'BEGIN { printf "pre-copy total / host rsync -a      %5.2fx\n", a / b }'
fi

echo
if [ "$dropped" = yes ]; then echo "caches dropped before each run: yes"; else
  echo "caches dropped before each run: NO (/proc/sys/vm/drop_caches not writable, or DROP_CACHES=0): warm-cache numbers"; fi
for name in "host cp -a" "host rsync -a + sync" "cpz" "xcp -o" "docker run cp -a" "docker cp -a + rsync -anc"; do
  [ -n "${secs[$name]:-}" ] || continue
  awk -v a="${secs[$name]}" -v b="${secs[host rsync -a]}" -v n="$name" \
    'BEGIN { printf "%-28s %5.2fx host rsync -a\n", n, a / b }'
done

#!/usr/bin/env bash
# A Colima-like VM engine for the VM tests (tests/it/vm_engine.rs): QEMU runs a Debian guest
# (tests/vm/image.sh) whose dockerd sees five host directories at the same path and nothing else
# of the host: three over virtio-9p (mapped-xattr, passthrough, none), one over virtiofs
# (virtiofsd, as Colima and Lima on `vz` and Docker Desktop share), one over reverse sshfs (made
# as Lima makes it: the host opens ssh into the guest through a loopback-forwarded port and runs
# `sshfs -o slave` there, whose sftp talks to the host's `sftp-server` over that ssh); its API
# is forwarded to a loopback port and, through socat, to a unix socket where Colima keeps it. A Colima home and a docker context `colima` make it look
# like Colima to tierctl, so identity, share reading and the printed fix run as on a Mac.
#
# Usage (root): harness.sh {deps|check|build|up|down|powercut|env|status|console}
#   deps     install what is missing: qemu-system-x86 (from bookworm-backports, through a
#            private source list, since qemu-utils 10.0 from there is installed), mmdebstrap,
#            socat, e2fsprogs, busybox-static, bindfs, inotify-tools, openssh-client,
#            openssh-sftp-server and
#            virtiofsd (`cargo install`, pinned, with libseccomp-dev and libcap-ng-dev)
#   check    exit 77 with `SKIP: <why>` when no VM can boot here; else print the accelerator
#   build    build the guest image unless the cache has it: $TIERCTL_VM_CACHE/<key>/, key =
#            sha256 of tests/vm/image.sh; older keys are removed once a build succeeds
#   up       check + build + boot + wait for the API + Colima files + socket + helper image
#            + the env file; a running VM is kept
#   down     stop socat, the reverse sshfs, QEMU and virtiofsd by their pids, unmount the
#            bindfs layer; remove the env file, the VM's disk overlay and its tier disk
#   powercut kill -9 QEMU (the guest's unsynced writes are lost, as in a power cut), boot the
#            same disks again, remount the shares and the tier disk; prints the boot seconds
#   env      print the env file the tests read
#   status   `running <pid>` (exit 0) or `stopped` (exit 1)
#   console  the guest's serial console log
# Environment: TIERCTL_VM_CACHE=/var/cache/tierctl-vm  TIERCTL_VM_RUN=/run/tierctl-vm
#   TIERCTL_VM_ROOT=/var/tmp/tierctl-vm (the shares and the unshared dir live under it)
#   TIERCTL_VM_MEM=2048  TIERCTL_VM_CPUS=2  TIERCTL_VM_WAIT_S=120 (KVM) / 420 (TCG)
#   TIERCTL_VM_ACCEL=auto|kvm|tcg   TIERCTL_VM_HOSTNAME=colima-like
#   TIERCTL_VM_SFTP_SERVER=/usr/lib/openssh/sftp-server  TIERCTL_VM_TIER_DISK=2G (its size)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TIERCTL_VM_CACHE:-/var/cache/tierctl-vm}
run=${TIERCTL_VM_RUN:-/run/tierctl-vm}
root=${TIERCTL_VM_ROOT:-/var/tmp/tierctl-vm}
mem=${TIERCTL_VM_MEM:-2048}
cpus=${TIERCTL_VM_CPUS:-2}
accel_wanted=${TIERCTL_VM_ACCEL:-auto}
vm_hostname=${TIERCTL_VM_HOSTNAME:-colima-like}
helper_image=${TIERCTL_HELPER_IMAGE:-tierctl-helper:busybox}
mirror=${VM_MIRROR:-http://deb.debian.org/debian}
qemu=qemu-system-x86_64
virtiofsd_version=1.14.0
sftp_server=${TIERCTL_VM_SFTP_SERVER:-/usr/lib/openssh/sftp-server}
tier_disk_size=${TIERCTL_VM_TIER_DISK:-2G}
guest_tier=/tier

# The test directories: a mapped-xattr share (the "tiers"), a passthrough share, a share where
# chown does not stick, an unshared dir. The last share is 9p `security_model=none` (Lima's
# default) over a bindfs layer that ignores chown and chgrp: in the VM a chown succeeds and the
# owner stays what it was, as on a Mac where QEMU runs as the user (QEMU runs as root here, so
# without the layer the chown would stick). Its files live in $root/nochown-store.
share=$root/tiers
share_passthrough=$root/passthrough
share_nochown=$root/nochown
nochown_store=$root/nochown-store
unshared=$root/unshared
share_virtiofs=$root/virtiofs
share_sshfs=$root/sshfs
colima_home=$run/colima
docker_config=$run/docker
socket=$colima_home/default/docker.sock
env_file=$run/env

log() { printf '[tierctl-vm %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

image_key() { sha256sum "$here/image.sh" | cut -c1-16; }
image_dir() { echo "$cache/$(image_key)"; }

# ------------------------------------------------------------------------------------- deps
apt_install() { # packages...
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

apt_install_backports() { # packages... from bookworm-backports through a private source list
  local d o
  d=$(mktemp -d)
  mkdir -p "$d/lists/partial" "$d/archives/partial"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$mirror" bookworm "$mirror" bookworm-updates "$mirror" bookworm-backports >"$d/sources.list"
  o=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::lists=$d/lists" -o "Dir::Cache::archives=$d/archives")
  apt-get "${o[@]}" update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get "${o[@]}" install -y -qq --no-install-recommends \
    -t bookworm-backports "$@" >&2
  rm -rf "$d"
}

cmd_deps() {
  [ "$(id -u)" = 0 ] || die "deps needs root"
  local plain=()
  command -v mmdebstrap >/dev/null || plain+=(mmdebstrap)
  command -v socat >/dev/null || plain+=(socat)
  command -v mke2fs >/dev/null || plain+=(e2fsprogs)
  command -v bindfs >/dev/null || plain+=(bindfs)
  command -v inotifywait >/dev/null || plain+=(inotify-tools)
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || plain+=(busybox-static)
  command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || plain+=(openssh-client)
  [ -x "$sftp_server" ] || plain+=(openssh-sftp-server)
  virtiofsd_installed || plain+=(libseccomp-dev libcap-ng-dev pkg-config)
  if [ ${#plain[@]} -gt 0 ]; then
    apt-cache show "${plain[@]}" >/dev/null 2>&1 || apt-get update -qq >&2
    apt_install "${plain[@]}"
  fi
  if ! virtiofsd_installed; then
    command -v cargo >/dev/null || die "virtiofsd is built with cargo, which is not on PATH"
    cargo install --quiet --locked --root /usr/local virtiofsd --version "=$virtiofsd_version" >&2
  fi
  command -v "$qemu" >/dev/null && return 0
  # A qemu-utils from bookworm-backports breaks the bookworm qemu-system-common: take qemu from
  # backports when that is the one installed, else from the system's sources.
  if dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
    apt_install_backports qemu-system-x86
  else
    apt_install qemu-system-x86 || apt_install_backports qemu-system-x86
  fi
}

virtiofsd_installed() { # the pinned version on PATH
  command -v virtiofsd >/dev/null && [ "$(virtiofsd --version 2>/dev/null)" = "virtiofsd $virtiofsd_version" ]
}

# ------------------------------------------------------------------------------ accelerator
hardware_kvm() { # only kvm_intel/kvm_amd: /dev/kvm from kvm_pvm hangs a stock kernel
  { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

pick_accel() { # prints kvm or tcg, or skip:<why>
  case $accel_wanted in
    tcg) echo tcg ;;
    kvm) if hardware_kvm; then echo kvm; else echo "skip:no hardware KVM (kvm_intel/kvm_amd)"; fi ;;
    *) if hardware_kvm; then echo kvm; else echo tcg; fi ;;
  esac
}

cmd_check() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: the VM harness needs root"; exit 77; }
  command -v "$qemu" >/dev/null || { echo "SKIP: $qemu not installed (run: $0 deps)"; exit 77; }
  command -v socat >/dev/null || { echo "SKIP: socat not installed (run: $0 deps)"; exit 77; }
  command -v bindfs >/dev/null || { echo "SKIP: bindfs not installed (run: $0 deps)"; exit 77; }
  [ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse for the bindfs layer of the nochown share"; exit 77; }
  command -v virtiofsd >/dev/null || { echo "SKIP: virtiofsd not installed (run: $0 deps)"; exit 77; }
  [ -x "$sftp_server" ] && command -v ssh >/dev/null ||
    { echo "SKIP: ssh or $sftp_server not installed (run: $0 deps)"; exit 77; }
  local a
  a=$(pick_accel)
  case $a in
    skip:*) echo "SKIP: ${a#skip:}"; exit 77 ;;
    *) echo "$a" ;;
  esac
}

# ------------------------------------------------------------------------------------ build
cmd_build() {
  local dir t0=$SECONDS
  dir=$(image_dir)
  [ -f "$dir/rootfs.img" ] && return 0
  [ "$(id -u)" = 0 ] || die "build needs root (mmdebstrap in root mode)"
  command -v mmdebstrap >/dev/null && command -v mke2fs >/dev/null || die "run: $0 deps"
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  [ -f "$dir/rootfs.img" ] && return 0
  log "building the guest image into $dir (mmdebstrap; about 5 minutes)"
  rm -rf "$dir.tmp"
  bash "$here/image.sh" "$dir.tmp" >"$cache/build.log" 2>&1 || {
    tail -n 40 "$cache/build.log" >&2
    die "guest image build failed (log: $cache/build.log)"
  }
  mv "$dir.tmp" "$dir"
  find "$cache" -mindepth 1 -maxdepth 1 -type d ! -path "$dir" -exec rm -rf {} +
  log "built in $((SECONDS - t0)) s: $(du -sh "$dir/rootfs.img" | cut -f1) used"
}

# ------------------------------------------------------------------------------- processes
pid_of() { cat "$run/$1.pid" 2>/dev/null || true; }
alive() {
  local p
  p=$(pid_of "$1")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

stop_pid() { # name
  local p
  p=$(pid_of "$1")
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p"
  fi
  rm -f "$run/$1.pid"
}

free_port() { # [a port not to take]
  local p
  for p in $(seq 23760 23799); do
    [ "$p" = "${1:-}" ] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free loopback port in 23760-23799"
}

mount_nochown() { # the bindfs layer that ignores chown and chgrp
  mkdir -p "$nochown_store" "$share_nochown"
  mountpoint -q "$share_nochown" && return 0
  bindfs --chown-ignore --chgrp-ignore "$nochown_store" "$share_nochown"
}

unmount_nochown() {
  if mountpoint -q "$share_nochown" 2>/dev/null; then umount "$share_nochown"; fi
}

start_virtiofsd() { # the host end of the virtiofs share, as root: owners are kept
  rm -f "$run/virtiofs.sock"
  setsid virtiofsd --socket-path "$run/virtiofs.sock" --shared-dir "$share_virtiofs" \
    --sandbox none </dev/null >>"$run/virtiofsd.log" 2>&1 &
  echo $! >"$run/virtiofsd.pid"
  for _ in $(seq 50); do [ -S "$run/virtiofs.sock" ] && return 0; sleep 0.1; done
  die "virtiofsd did not create $run/virtiofs.sock"
}

ssh_key_b64() { # the harness's ssh key (made once), its public half's base64 field
  [ -f "$run/ssh_key" ] || ssh-keygen -q -t ed25519 -N '' -C tierctl-harness -f "$run/ssh_key"
  cut -d' ' -f2 "$run/ssh_key.pub"
}

guest_ssh() { # ssh-port command...: ssh into the guest as root, over loopback only
  local port=$1
  shift
  ssh -q -i "$run/ssh_key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20 root@127.0.0.1 "$@"
}

start_sshfs() { # ssh-port; the reverse sshfs as Lima mounts it, then wait for the mount
  local fifo=$run/sftp.fifo q
  rm -f "$fifo"
  mkfifo "$fifo"
  q=$(printf '%q' "$share_sshfs")
  # the guest's sshfs speaks sftp on its stdin/stdout (-o slave), which ssh joins to the host's
  # sftp-server: nothing listens on the host but QEMU's loopback port forward
  export -f guest_ssh
  export run
  setsid bash -c "exec 3<>$(printf '%q' "$fifo"); $(printf '%q' "$sftp_server") <&3 | guest_ssh $1 sshfs :$q $q -o slave,allow_other >&3" \
    </dev/null >/dev/null 2>>"$run/sshfs.log" &
  echo $! >"$run/sshfs.pid"
  for _ in $(seq 60); do
    guest_ssh "$1" mountpoint -q "$q" 2>/dev/null && return 0
    alive sshfs || break
    sleep 1
  done
  tail -n 20 "$run/sshfs.log" >&2
  die "the reverse sshfs did not mount $share_sshfs in the guest"
}

stop_group() { # name: a process started with setsid, and its pipeline
  local p
  p=$(pid_of "$1")
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p"
    for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -KILL -- "-$p" 2>/dev/null
  fi
  rm -f "$run/$1.pid"
}

start_qemu() { # accel port ssh-port [keep]: a fresh overlay and tier disk unless `keep`
  local dir append accel_args
  dir=$(image_dir)
  mkdir -p "$share" "$share_passthrough" "$unshared" "$share_virtiofs" "$share_sshfs" "$run"
  mount_nochown
  start_virtiofsd
  if [ "${4:-}" != keep ]; then
    rm -f "$run/overlay.qcow2" "$run/tier.img"
    qemu-img create -q -f qcow2 -b "$dir/rootfs.img" -F raw "$run/overlay.qcow2"
    # the guest's own disk for a tier (/dev/vdb at $guest_tier): the power-cut tests move data
    # onto it inside the guest, where killing QEMU drops what the guest had not synced
    truncate -s "$tier_disk_size" "$run/tier.img"
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$run/tier.img"
  fi
  append="root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet init=/sbin/tierinit"
  append+=" tierhost=$vm_hostname tier9p=trans=virtio,version=9p2000.L,msize=262144,cache=none"
  append+=" tiershare=tiers:$share tiershare=passthrough:$share_passthrough"
  append+=" tiershare=nochown:$share_nochown tiervfs=vfs0:$share_virtiofs"
  append+=" tiersshfs=$share_sshfs tiersshkey=$(ssh_key_b64)"
  if [ "$1" = kvm ]; then accel_args=(-accel kvm -cpu host)
  else accel_args=(-accel tcg,thread=multi,tb-size=256 -cpu max); fi
  : >"$run/console.log"
  date +%s.%N >"$run/start.ts"
  "$qemu" -name tierctl-vm "${accel_args[@]}" -m "$mem" -smp "$cpus" \
    -nodefaults -no-user-config -display none -monitor none -serial "file:$run/console.log" \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" -append "$append" \
    -drive "file=$run/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
    -drive "file=$run/tier.img,if=virtio,format=raw,cache=writeback" \
    -object "memory-backend-memfd,id=mem,size=${mem}M,share=on" -numa node,memdev=mem \
    -chardev "socket,id=c0,path=$run/virtiofs.sock" -device vhost-user-fs-pci,chardev=c0,tag=vfs0 \
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$2-:2375,hostfwd=tcp:127.0.0.1:$3-:22" \
    -device virtio-net-pci,netdev=n0,romfile= -device virtio-rng-pci \
    -virtfs "local,path=$share,mount_tag=tiers,security_model=mapped-xattr,id=fs0" \
    -virtfs "local,path=$share_passthrough,mount_tag=passthrough,security_model=passthrough,id=fs1" \
    -virtfs "local,path=$share_nochown,mount_tag=nochown,security_model=none,id=fs2" \
    -daemonize -pidfile "$run/qemu.pid"
}

wait_api() { # accel port
  local limit t0=$SECONDS s e
  limit=${TIERCTL_VM_WAIT_S:-$([ "$1" = kvm ] && echo 120 || echo 420)}
  until docker -H "tcp://127.0.0.1:$2" version --format '{{.Server.Version}}' >/dev/null 2>&1; do
    alive qemu || { tail -n 30 "$run/console.log" >&2; die "qemu exited during boot"; }
    [ $((SECONDS - t0)) -lt "$limit" ] || {
      tail -n 30 "$run/console.log" >&2
      die "the Docker API did not answer within ${limit} s"
    }
    sleep 1
  done
  s=$(cat "$run/start.ts")
  e=$(date +%s.%N)
  awk -v a="$s" -v b="$e" 'BEGIN{printf "%.1f\n", b-a}' >"$run/boot_seconds"
}

mount_tier() { # ssh-port: the tier disk at $guest_tier in the guest (ext4 replays its journal)
  guest_ssh "$1" "mkdir -p $guest_tier && { mountpoint -q $guest_tier || mount /dev/vdb $guest_tier; }" ||
    die "the tier disk did not mount at $guest_tier in the guest"
}

write_colima_files() { # Colima's files for profile `default`, listing the real shares
  local mounts
  mounts="mounts:
  - location: $share
    mountPoint: $share
    writable: true
    9p:
      securityModel: mapped-xattr
  - location: $share_passthrough
    mountPoint: $share_passthrough
    writable: true
    9p:
      securityModel: passthrough
  - location: $share_nochown
    mountPoint: $share_nochown
    writable: true
    9p:
      securityModel: none
  - location: $share_virtiofs
    mountPoint: $share_virtiofs
    writable: true
  - location: $share_sshfs
    mountPoint: $share_sshfs
    writable: true
"
  mkdir -p "$colima_home/default" "$colima_home/_lima/colima"
  printf '# Colima default behaviour: $HOME is mounted as writable.\nvmType: qemu\nmountType: 9p\n%s' \
    "$mounts" >"$colima_home/default/colima.yaml"
  printf 'vmType: qemu\nmountType: 9p\n%s' "$mounts" >"$colima_home/_lima/colima/lima.yaml"
}

write_docker_context() { # DOCKER_CONFIG with the context `colima` at the forwarded socket
  local meta
  meta=$docker_config/contexts/meta/$(printf colima | sha256sum | cut -d' ' -f1)
  mkdir -p "$meta"
  printf '{"currentContext":"colima"}\n' >"$docker_config/config.json"
  printf '{"Name":"colima","Metadata":{"Description":"colima"},"Endpoints":{"docker":{"Host":"unix://%s","SkipTLSVerify":false}}}\n' \
    "$socket" >"$meta/meta.json"
}

start_socat() { # port
  rm -f "$socket"
  # -t: keep a half-closed stream open (docker attach closes its write side first)
  setsid socat -t 3600 "UNIX-LISTEN:$socket,fork,mode=600" "TCP:127.0.0.1:$1" </dev/null >>"$run/socat.log" 2>&1 &
  echo $! >"$run/socat.pid"
  for _ in $(seq 50); do [ -S "$socket" ] && return 0; sleep 0.1; done
  die "socat did not create $socket"
}

import_helper() { # port; an image of the host's static busybox, plus inotifywait and its
  # libraries: Debian's busybox has no inotifyd, and `vm --probe` watches each share for the
  # host's writes with whichever of the two the image has; plus our static tierctl-mmap, with
  # which `vm --probe` measures mmap coherence (issue 22; without it: "not measured")
  local dh=(-H "tcp://127.0.0.1:$1") t a w m
  docker "${dh[@]}" image inspect "$helper_image" >/dev/null 2>&1 && return 0
  ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is not static (apt-get install busybox-static)"
  w=$(command -v inotifywait) || die "inotifywait not installed (run: $0 deps)"
  m=$(bash "$here/../../tools/tierctl-mmap-static.sh") ||
    { log "WARNING: tierctl-mmap not built: vm --probe will not measure mmap coherence"; m=; }
  t=$(mktemp -d)
  mkdir -p "$t/bin" "$t/tmp" "$t/proc" "$t/sys" "$t/dev" "$t/etc"
  cp /bin/busybox "$t/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$t/bin/$a"; done
  cp "$w" "$t/bin/inotifywait"
  [ -z "$m" ] || cp "$m" "$t/bin/tierctl-mmap"
  for a in $(ldd "$w" | grep -o '/[^ ]*'); do
    mkdir -p "$t$(dirname "$a")"
    cp -L "$a" "$t$a"
  done
  tar -C "$t" -c . | docker "${dh[@]}" import -c 'ENV PATH=/bin' - "$helper_image" >/dev/null
  rm -rf "$t"
}

versions() { # what the shares' servers are, for the measured table
  printf '%s' "qemu $("$qemu" --version | head -n 1 | awk '{print $4}'); $(virtiofsd --version); $(ssh -V 2>&1 | cut -d, -f1)"
}

write_env() { # accel port ssh-port
  cat >"$env_file.tmp" <<EOF
TIERCTL_VM_PID=$(pid_of qemu)
TIERCTL_VM_ACCEL=$1
TIERCTL_VM_HOST=tcp://127.0.0.1:$2
TIERCTL_VM_HOSTNAME=$vm_hostname
TIERCTL_VM_DOCKER_CONFIG=$docker_config
TIERCTL_VM_COLIMA_HOME=$colima_home
TIERCTL_VM_SOCKET=$socket
TIERCTL_VM_SHARE=$share
TIERCTL_VM_SHARE_PASSTHROUGH=$share_passthrough
TIERCTL_VM_SHARE_NOCHOWN=$share_nochown
TIERCTL_VM_UNSHARED=$unshared
TIERCTL_VM_SHARE_VIRTIOFS=$share_virtiofs
TIERCTL_VM_SHARE_SSHFS=$share_sshfs
TIERCTL_VM_SSH_PORT=$3
TIERCTL_VM_SSH_KEY=$run/ssh_key
TIERCTL_VM_GUEST_TIER=$guest_tier
TIERCTL_VM_VERSIONS=$(versions)
TIERCTL_VM_HELPER_IMAGE=$helper_image
TIERCTL_VM_BOOT_SECONDS=$(cat "$run/boot_seconds")
EOF
  mv "$env_file.tmp" "$env_file"
}

cmd_up() {
  local accel port ssh_port
  accel=$(cmd_check) || { echo "$accel"; exit 77; }
  cmd_build
  if alive qemu && [ -f "$env_file" ] && alive socat && alive sshfs; then return 0; fi
  cmd_down 2>/dev/null
  port=$(free_port)
  ssh_port=$(free_port "$port")
  log "booting ($accel, API at 127.0.0.1:$port, ssh at 127.0.0.1:$ssh_port)"
  start_qemu "$accel" "$port" "$ssh_port"
  wait_api "$accel" "$port"
  log "Docker API ready $(cat "$run/boot_seconds") s after qemu started"
  start_sshfs "$ssh_port"
  log "reverse sshfs mounted at $share_sshfs"
  mount_tier "$ssh_port"
  write_colima_files
  write_docker_context
  start_socat "$port"
  import_helper "$port"
  write_env "$accel" "$port" "$ssh_port"
}

env_port() { # KEY: the port at the end of the env file's value
  sed -n "s/^$1=.*[:]//p" "$env_file"
}

# A power cut: QEMU killed (-9), so whatever the guest had not synced is gone, as when the
# power fails; then the same overlay and tier disk boot again and the shares, the tier mount
# and the env file (its new pid) come back. QEMU's cache=unsafe keeps what a guest flush wrote
# (qcow2's metadata reaches the host file at each flush; only the host's fsync is skipped), and
# the host does not crash, so a synced write survives and an unsynced one is lost.
cmd_powercut() {
  local accel port ssh_port p
  [ -f "$env_file" ] || die "no VM is up (no $env_file)"
  accel=$(sed -n 's/^TIERCTL_VM_ACCEL=//p' "$env_file")
  port=$(env_port TIERCTL_VM_HOST)
  ssh_port=$(sed -n 's/^TIERCTL_VM_SSH_PORT=//p' "$env_file")
  p=$(pid_of qemu)
  [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  rm -f "$run/qemu.pid"
  stop_group sshfs
  stop_pid virtiofsd
  log "power cut: QEMU $p killed; booting the same disks again"
  start_qemu "$accel" "$port" "$ssh_port" keep
  wait_api "$accel" "$port"
  log "Docker API ready $(cat "$run/boot_seconds") s after qemu started"
  mount_tier "$ssh_port"
  start_sshfs "$ssh_port"
  alive socat || start_socat "$port"
  write_env "$accel" "$port" "$ssh_port"
  cat "$run/boot_seconds"
}

cmd_down() {
  rm -f "$env_file"
  stop_pid socat
  stop_group sshfs
  stop_pid qemu
  stop_pid virtiofsd
  unmount_nochown
  rm -f "$run/overlay.qcow2" "$run/tier.img" "$socket" "$run/virtiofs.sock" "$run/sftp.fifo"
}

case ${1:-} in
  deps) cmd_deps ;;
  check) cmd_check ;;
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  powercut) cmd_powercut ;;
  env) cat "$env_file" ;;
  status) if alive qemu; then echo "running $(pid_of qemu)"; else echo stopped; exit 1; fi ;;
  console) cat "$run/console.log" ;;
  *) sed -n '2,33p' "$0"; exit 2 ;;
esac

#!/usr/bin/env bash
# The recipe of the test VM's guest image: a Debian bookworm root (mmdebstrap, minbase) with a
# stock kernel, dockerd, busybox, sshd and sshfs, written into an ext4 image with `mke2fs -d`,
# plus the kernel and initrd from its /boot. PID 1 is /sbin/tierinit below (no systemd): it
# mounts the pseudo filesystems, sets up the QEMU user network, mounts the 9p and virtiofs
# shares named on the kernel command line at their host paths, starts sshd (the host opens the
# reverse-sshfs share through it, as Lima does: `sshfs -o slave` in the guest, the host's
# `sftp-server` at the other end of the ssh) and runs dockerd with its API on tcp 2375
# (forwarded by QEMU to a loopback port of the host).
#
# tests/vm/harness.sh keys its image cache by the sha256 of THIS file: change it and the next
# `harness.sh build` rebuilds; change anything else and the cached image is kept.
#
# Usage (root): image.sh OUT_DIR   -> OUT_DIR/{rootfs.img,vmlinuz,initrd.img}
set -euo pipefail

out=${1:?usage: image.sh OUT_DIR}
mirror=${VM_MIRROR:-http://deb.debian.org/debian}
security=${VM_SEC_MIRROR:-${mirror%/debian}/debian-security}
suite=bookworm
disk_size=8G

write_init() { # $1 = root directory of the guest
  cat >"$1/sbin/tierinit" <<'EOF'
#!/bin/sh
# PID 1 of the tierctl test VM. Kernel command line:
#   tierhost=NAME               hostname (what `docker info` reports as Name)
#   tier9p=OPTIONS              9p mount options
#   tiershare=TAG:PATH          a virtio-9p share mounted at PATH (repeatable)
#   tiervfs=TAG:PATH            a virtiofs share mounted at PATH (repeatable)
#   tiersshfs=PATH              the mount point the host's reverse sshfs mounts over ssh
#   tiersshkey=BASE64           root's authorized ssh-ed25519 key (the host's reverse sshfs)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "TIERINIT: $*" >/dev/console; }
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mountpoint -q /run || mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -o remount,rw /
host=tierctl-vm
opts=trans=virtio,version=9p2000.L
for w in $(cat /proc/cmdline); do
  case $w in
    tierhost=*) host=${w#tierhost=} ;;
    tier9p=*) opts=${w#tier9p=} ;;
    tiersshkey=*) mkdir -p -m 700 /root/.ssh
      echo "ssh-ed25519 ${w#tiersshkey=} tierctl-harness" >/root/.ssh/authorized_keys ;;
  esac
done
hostname "$host"
echo "$host" >/etc/hostname
printf '127.0.0.1 localhost %s\n' "$host" >/etc/hosts
for m in virtio_pci virtio_net 9p 9pnet_virtio virtiofs fuse overlay br_netfilter; do
  modprobe "$m" || say "modprobe $m failed"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
for w in $(cat /proc/cmdline); do
  case $w in
    tiershare=*)
      v=${w#tiershare=}; tag=${v%%:*}; p=${v#*:}
      if mkdir -p "$p" && mount -t 9p -o "$opts" "$tag" "$p"; then say "mounted 9p $tag at $p"
      else say "FAILED to mount 9p $tag at $p"; fi ;;
    tiervfs=*)
      v=${w#tiervfs=}; tag=${v%%:*}; p=${v#*:}
      if mkdir -p "$p" && mount -t virtiofs "$tag" "$p"; then say "mounted virtiofs $tag at $p"
      else say "FAILED to mount virtiofs $tag at $p"; fi ;;
    tiersshfs=*) mkdir -p "${w#tiersshfs=}" ;;
  esac
done
mkdir -p -m 755 /run/sshd
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A
if /usr/sbin/sshd -o PasswordAuthentication=no -o UseDNS=no; then say "sshd started"
else say "FAILED to start sshd"; fi
say "starting dockerd"
dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2375 >/dev/console 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do wait; sleep 1; done
say "dockerd exited; powering off"
sync
echo o >/proc/sysrq-trigger
EOF
  chmod 755 "$1/sbin/tierinit"
}

trim_modules() { # $1 = root directory of the guest; drops drivers a headless VM never loads
  local kdir
  kdir=$(ls -d "$1"/lib/modules/* | head -n 1)
  rm -rf "$kdir"/kernel/drivers/{gpu,media,net/wireless,infiniband,staging,bluetooth,iio,hid,input,usb,video,isdn,mmc} \
    "$kdir"/kernel/sound "$kdir"/kernel/net/{bluetooth,mac80211,wireless}
  chroot "$1" depmod -a "$(basename "$kdir")"
}

root=$out/rootfs.tmp
rm -rf "$root" "$out"/*.tmp
mkdir -p "$out"
mmdebstrap --variant=minbase --quiet \
  --include=linux-image-amd64,docker.io,busybox-static,iproute2,kmod,ca-certificates,openssh-server,sshfs \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='printf "nameserver 10.0.2.3\n" > "$1/etc/resolv.conf"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
  "$suite" "$root" \
  "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main"
write_init "$root"
trim_modules "$root"
cp "$(ls "$root"/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz.tmp"
cp "$(ls "$root"/boot/initrd.img-* | head -n 1)" "$out/initrd.img.tmp"
mke2fs -q -t ext4 -L tierroot -d "$root" "$out/rootfs.img.tmp" "$disk_size"
rm -rf "$root"
for f in vmlinuz initrd.img rootfs.img; do mv "$out/$f.tmp" "$out/$f"; done

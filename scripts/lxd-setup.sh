#!/usr/bin/env bash
# Make LXD usable on a machine without systemd (CI, containers): install it from Debian's
# packages, start the daemon by hand, and create Runecraft's bridge (NAT off, forwarding
# to other interfaces dropped, so containers reach only this host). Idempotent; never stops
# a daemon it did not start.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
BRIDGE=${RUNECRAFT_LXD_BRIDGE:-runecraft0}
SUBNET=${RUNECRAFT_LXD_SUBNET:-10.201.0.1/24}
LOGDIR=${RUNECRAFT_LXD_LOGDIR:-/var/log/lxd}

need=()
for pkg in lxd nftables btrfs-progs debootstrap; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# LXD fetches instance types from the image server at start-up; keep it on this host.
grep -q 'images.linuxcontainers.org' /etc/hosts || echo '127.0.0.1 images.linuxcontainers.org' >> /etc/hosts

if ! lxc info >/dev/null 2>&1; then
  # A lxcfs that died (machine restart, killed session) leaves its FUSE mount behind, and
  # every stat of it then fails with "Transport endpoint is not connected": unmount it first.
  if grep -qs ' /var/lib/lxcfs ' /proc/mounts && ! stat /var/lib/lxcfs >/dev/null 2>&1; then
    umount -l /var/lib/lxcfs
  fi
  mkdir -p /var/lib/lxcfs "$LOGDIR"
  if ! mountpoint -q /var/lib/lxcfs && command -v lxcfs >/dev/null; then
    (setsid lxcfs /var/lib/lxcfs >"$LOGDIR/lxcfs.out" 2>&1 &)
  fi
  (setsid lxd --group root --logfile="$LOGDIR/lxd.log" >"$LOGDIR/lxd.out" 2>&1 &)
  lxd waitready --timeout=60
fi

lxc storage show default >/dev/null 2>&1 || lxc storage create default dir >/dev/null
if ! lxc network show "$BRIDGE" >/dev/null 2>&1; then
  lxc network create "$BRIDGE" ipv4.address="$SUBNET" ipv4.nat=false ipv6.address=none \
    raw.dnsmasq=no-resolv >/dev/null
fi
# LXD does not restart a bridge's dnsmasq that died (killed, OOM), and containers then get
# no address: setting the network's dnsmasq config again restarts it.
if ! pgrep -f -- "--interface=$BRIDGE( |$)" >/dev/null 2>&1; then
  lxc network unset "$BRIDGE" raw.dnsmasq
  lxc network set "$BRIDGE" raw.dnsmasq=no-resolv
fi
lxc profile device show default 2>/dev/null | grep -q 'root:' || \
  lxc profile device add default root disk path=/ pool=default >/dev/null
# Runecraft's machines go to a btrfs pool on a sparse loop file when the kernel has btrfs:
# containers are snapshots of the image there (a few seconds to launch), while the dir
# driver copies and re-maps the whole image for every container (tens of seconds).
if ! lxc storage show runecraft >/dev/null 2>&1; then
  lxc storage create runecraft btrfs size="${RUNECRAFT_LXD_POOL_SIZE:-30GiB}" >/dev/null 2>&1 ||
    echo "no btrfs pool (LXD said no); machines use the default pool"
fi

# Containers may talk to this host only: drop anything the bridge would forward elsewhere.
nft list table inet runecraft_guard >/dev/null 2>&1 || nft -f - <<NFT
table inet runecraft_guard {
  chain forward_guard {
    type filter hook forward priority 0; policy accept;
    iifname "$BRIDGE" oifname != "$BRIDGE" counter drop
  }
}
NFT
echo "LXD ready: bridge $BRIDGE ($SUBNET)"

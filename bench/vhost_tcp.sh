#!/usr/bin/env bash
# TCP between a QEMU guest on a vhost-user port and a namespace behind a veth, through brisk
# and through Open vSwitch with DPDK (userspace-tso-enable=true), with the same guest, the same
# veth and the same namespace, in one run:
#
#   bench/vhost_tcp.sh build/briskd build/brisk [runs=3] [seconds=5]      (as root)
#
#   guest     one QEMU guest (TCG; lib.sh's start_guest: Debian's kernel, busybox, iperf3),
#             virtio-net with its default offloads (TSO on), on a vhost-user socket QEMU serves
#             (server=on): each switch in turn connects to it as a client, so the guest boots
#             once (on brisk: QEMU waits for a back end before it starts the guest) and every
#             switch gets the same guest
#   peer      a namespace behind a veth, iperf3 with default offloads
#   brisk     briskd as `tools/dev.sh run` starts it; `vhost create` (client mode) and the veth
#             as a port with `driver afpacket` (PACKET_VNET_HDR: takes and gives super-frames)
#   ovs       Open vSwitch 3.1 with DPDK (bench/ovs_dpdk.sh), netdev bridge (NORMAL action),
#             a dpdkvhostuserclient port on the guest's socket and the veth as a system port,
#             other_config:userspace-tso-enable=true (read at start) and its default PMD
#
# Each run measures each switch in turn (brisk, ovs, brisk, ...), TCP for <seconds> guest ->
# peer and peer -> guest, so a change in the machine's load hits both alike. Per run and
# direction: the receiver's Mbit/s and the switch's CPU (user + system time of all its threads
# over the transfer) per GByte carried. Then medians and the ratios brisk/ovs. TCG is slow:
# compare the two, do not quote absolutes. The load average is printed at the start and end.
#
# What it makes (a namespace, a veth, QEMU, ovsdb-server and ovs-vswitchd, hugepages for
# Open vSwitch's EAL) is removed on exit by PID and name, also on errors and Ctrl-C
# (tests/integration/lib.sh's cleanup, whose helpers this script uses).
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 <briskd> <brisk> [runs=3] [seconds=5]" >&2; exit 2; }
RUNS=${3:-3} SECS=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tests/integration/lib.sh" "$1" "$2"
source "$HERE/ovs_dpdk.sh"
source "$HERE/../tools/hugepages.sh"
need_tool qemu-system-x86_64 iperf3 ethtool ss timeout ovsdb-server ovs-vsctl
need_netns
[[ -n $PY ]] || fail "python3 is needed (JSON parsing)"
ovs_dpdk_available || fail "$OVS_VSWITCHD not found (apt-get install openvswitch-switch-dpdk)"
ovs_dpdk_netdev_busy && fail "a device ovs-netdev exists (another Open vSwitch userspace datapath runs)"
BOOT_SECS=${BRISK_QEMU_BOOT_SECS:-120}

GUEST_MAC=52:54:00:28:41:02 GUEST_IP=198.18.41.2 PEER_IP=198.18.41.3
{
  guest_init_net "$GUEST_IP/24"
  echo "iperf3 -s -p 5201 >/tmp/iperf3-s.log 2>&1 &"
  echo 'echo "BRISK-GUEST-UP"'
  guest_init_cmd_loop
} >"$TMPD/init"
guest_image "$TMPD/init" iperf3 ethtool

# Open vSwitch's EAL takes 512 MiB (256 pages); briskd's own EAL takes pages too when there are any.
hugepages_reserve 384 || fail "could not reserve 384 hugepages (free: $(hugepages_free))"
ON_EXIT+=("hugepages_release")

start_briskd
PNS="${PFX}-p" VETH="${PFX}p" VM="${PFX}vm" OVS_BR="${PFX}o" GSOCK="$TMPD/guest.sock"
ON_EXIT+=("ovs_dpdk_cleanup $OVS_BR")
veth_to_ns "$PNS" "$VETH" "$PEER_IP/24"
# QEMU's vhost-user netdev waits for its back end before the guest starts: brisk's port first.
bk vhost create 41 socket "$GSOCK" name "$VM" >/dev/null || fail "vhost create"
guest_cmd_channel
start_guest vm 256 -serial "pipe:$TMPD/cmd" \
  -object memory-backend-memfd,id=mem0,size=256M,share=on -numa node,memdev=mem0 \
  -chardev "socket,id=chr0,path=$GSOCK,server=on,wait=off" \
  -netdev vhost-user,id=net0,chardev=chr0 \
  -device "virtio-net-pci,netdev=net0,mac=$GUEST_MAC,vectors=0,romfile="
guest_collect "$BOOT_SECS" || { show_guest; fail "the guest's command loop did not come up"; }
guest_run 30 "ethtool -k eth0 | grep -E '^(tcp-segmentation-offload|tx-checksumming):'" || true
say "guest: $(tr '\n' ' ' <<<"$GUEST_OUT")"

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)
reachable() { ip netns exec "$PNS" ping -c 1 -W 1 "$GUEST_IP" >/dev/null 2>&1; }

# iperf <dir> <switch pid>: TCP for SECS s, guest -> peer (g2p) or peer -> guest (p2g). Sets
# RESULT to "<Mbit/s> <CPU-seconds of the switch per GByte>" (0 0 when nothing was carried).
# Not in $(...): guest_run keeps its place in the command channel in this shell's variables.
iperf() {
  local dir=$1 pid=$2 out="$TMPD/iperf-$1.json" c0 c1
  rm -f "$out"
  c0=$(cpu_ticks "$pid")
  if [[ $dir == g2p ]]; then
    guest_iperf g2p "$PNS" "$PEER_IP" 5301 "$SECS" "$out"
  else
    guest_iperf p2g "$PNS" "$GUEST_IP" 5201 "$SECS" "$out"
  fi
  c1=$(cpu_ticks "$pid")
  RESULT=$($PY - "$out" "$((${c1:-0} - ${c0:-0}))" "$HZ" <<'PYEOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["end"]["sum_received"]
    bps, nbytes = s["bits_per_second"], s["bytes"]
except Exception:
    bps, nbytes = 0, 0
cpu = int(sys.argv[2]) / int(sys.argv[3])
print(int(bps / 1e6), "%.2f" % (cpu / (nbytes / 1e9)) if nbytes else 0)
PYEOF
)
}

# measure <switch> <pid>: both directions, into R[<switch>,<dir>] and C[<switch>,<dir>].
declare -A R C
measure() {
  local sw=$1 pid=$2 dir r
  wait_until 60 reachable || { show_guest; fail "$sw: the namespace cannot ping the guest"; }
  for dir in g2p p2g; do
    iperf "$dir" "$pid"
    r=($RESULT)
    R[$sw,$dir]+="${r[0]} " C[$sw,$dir]+="${r[1]} "
    LINE+=" $sw $dir ${r[0]} Mbit/s (${r[1]} CPU-s/GB);"
  done
}

run_brisk() {  # the vhost-user port exists for the first run (made before the guest booted)
  if [[ -z $(port_json "$VM" connected) ]]; then
    bk vhost create 41 socket "$GSOCK" name "$VM" >/dev/null || fail "vhost create"
  fi
  bk port add "$VETH" vlan 41 driver afpacket >/dev/null || fail "port add $VETH"
  wait_until 60 connected "$VM" || { show_guest; fail "brisk did not connect to the guest's socket"; }
  measure brisk "$BRISKD_PID"
  bk port delete "$VM" >/dev/null || fail "port delete $VM"
  bk port delete "$VETH" >/dev/null || fail "port delete $VETH"
}

run_ovs() {
  local i=$1
  ovs_dpdk_start "$TMPD/ovs" "${PFX}o$i" other_config:userspace-tso-enable=true
  local p
  for p in "${OVS_PIDS[@]}"; do track_pid "$p"; done
  ovs_vsctl add-br "$OVS_BR" -- set bridge "$OVS_BR" datapath_type=netdev \
    -- add-port "$OVS_BR" vm -- set Interface vm type=dpdkvhostuserclient \
    options:vhost-server-path="$GSOCK" -- add-port "$OVS_BR" "$VETH" >/dev/null ||
    fail "ovs-vsctl add-br: $(tail -n 5 "$TMPD/ovs/ovs-vswitchd.log")"
  ip link set "$OVS_BR" up
  ((i > 1)) || say "ovs: $(grep -m 1 -i "TCP Segmentation Offload" "$TMPD/ovs/ovs-vswitchd.log" || echo "no TSO line in its log")"
  measure ovs "$OVS_SWITCH_PID"
  ovs_vsctl --if-exists del-br "$OVS_BR" || true
  for p in "${OVS_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    untrack_pid "$p"
  done
  ovs_dpdk_cleanup "$OVS_BR"
  cp "$TMPD/ovs/ovs-vswitchd.log" "$TMPD/ovs-vswitchd$i.log" 2>/dev/null || true
}

say "TCP guest <-> namespace over vhost-user, $RUNS runs of ${SECS} s; $(nproc) CPUs;" \
  "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
  LINE="run $i:"
  run_brisk
  run_ovs "$i"
  say "$LINE"
done
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { tr ' ' '\n' | sort -n | awk 'NF {a[++n] = $1} END {print n ? a[int((n + 1) / 2)] : 0}'; }
for dir in g2p p2g; do
  b=$(median <<<"${R[brisk,$dir]}") o=$(median <<<"${R[ovs,$dir]}")
  bc=$(median <<<"${C[brisk,$dir]}") oc=$(median <<<"${C[ovs,$dir]}")
  say "$dir median: brisk $b Mbit/s ($bc CPU-s/GB), ovs-dpdk $o Mbit/s ($oc CPU-s/GB);" \
    "brisk/ovs $($PY -c "print('%.2fx' % ($b / $o) if $o else '-')")"
  ((b > 0)) || fail_soft "$dir: brisk carried no TCP"
  ((o > 0)) || fail_soft "$dir: Open vSwitch carried no TCP"
done

#!/usr/bin/env bash
# A QEMU guest on a tap that QEMU holds: TCP both ways through brisk against the kernel bridge,
# in the same run.
#
#   - the guest: lib.sh's (guest_image, start_guest: Debian's kernel and busybox, QEMU TCG)
#     plus the host's iperf3 and ethtool with their libraries; QEMU 7.2 TCG with
#     `-netdev tap,ifname=<tap>,script=no,downscript=no,vhost=off` and `-device virtio-net-pci`:
#     QEMU creates the tap, opens it with IFF_VNET_HDR and turns the tap's offloads on when the
#     guest's virtio-net takes them; the guest's TSO is on (its defaults). Checked: the tap's
#     tun_flags have IFF_VNET_HDR, the host side shows tcp-segmentation-offload on, and so does
#     the guest's eth0.
#   - the peer: a veth, its other end in a namespace.
#   - the guest runs `iperf3 -s` from its init and a command loop on its second serial port
#     (ttyS1, a pipe chardev): the test sends it a command line and reads the output up to a
#     `BRISK-DONE <exit code>` line. guest->peer: the guest runs `iperf3 -c` against a server
#     in the namespace; peer->guest: the namespace runs `iperf3 -c` against the guest. The
#     receiver's rate is taken (the namespace server's, the guest server's as reported back).
#   - run 1: the tap and the veth on a kernel bridge; run 2: the same two attached to brisk with
#     `port add <dev> vlan 41` (the default driver: AF_XDP, AF_PACKET if that fails); run 3: the
#     same with `driver afpacket`. One boot serves all three.
#
# Each brisk rate is printed with its ratio to the bridge's and whether it meets the 0.9x target
# of issue 18, which is not asserted: TCG and a shared 2-core machine make single runs swing by
# 2-3x (issue 18's table: one path measured 0.37x and 0.48x the bridge in two runs). What is
# asserted is a floor of 10% of the bridge's rate in the same run, in each direction: the
# known failure (the guest's 64 KiB TSO frames dropped on their way into brisk, TCP living on
# retransmissions) runs at about 0.1% of the bridge's rate, so 10% sits two orders of
# magnitude above the failure and several times below the noise of a working path. So one
# bridge run is the reference: the load drifting during the test moves a working path's ratio
# by 2-3x at most, well inside that margin; and TCP_SECS (3 s) is long enough, a crawling path
# shows within the first second.
# A failing run is reported (with brisk's drop and XSK counters) and the test goes on to the
# next one; it fails at the end.
source "$(dirname "$0")/lib.sh" "$@"
# Boot waits as in vhost_qemu.sh (62-85 s measured at load averages 8-13).
BOOT_SECS=${BRISK_QEMU_BOOT_SECS:-180}
TCP_SECS=${BRISK_QEMU_TCP_SECS:-3}
FLOOR=0.10 TARGET=0.9
need_tool qemu-system-x86_64 iperf3 ethtool ping ss timeout
need_netns
[[ -n "$PY" ]] || skip "python3 is not installed (JSON parsing)"

VLAN=41
GUEST_MAC=52:54:00:28:41:02
GUEST_IP=198.18.41.2 PEER_IP=198.18.41.1
GUEST_PORT=5201
TAP="${PFX}q" VETH="${PFX}v" NS="${PFX}-p" KBR="${PFX}kb"

{
  guest_init_net "$GUEST_IP/24"
  cat <<EOF
iperf3 -s -p $GUEST_PORT >/tmp/iperf3-s.log 2>&1 &
echo "BRISK-GUEST-UP \$(cat /sys/class/net/eth0/address)"
EOF
  guest_init_cmd_loop
} >"$TMPD/init"
guest_image "$TMPD/init" iperf3 ethtool

# ------------------------------------------------------------------ the guest
guest_cmd_channel

# ttyS1 is the command channel; QEMU creates the tap.
start_guest tap 256 -serial "pipe:$TMPD/cmd" \
  -netdev "tap,id=net0,ifname=$TAP,script=no,downscript=no,vhost=off" \
  -device "virtio-net-pci,netdev=net0,mac=$GUEST_MAC,romfile="

wait_until 30 host_has_dev "$TAP" || { show_guest; fail "QEMU did not create tap $TAP"; }
ip link set "$TAP" up
guest_collect "$BOOT_SECS" || { show_guest; fail "the guest's command loop did not come up within $BOOT_SECS s"; }
say "guest up: $(grep BRISK-GUEST "$GUEST_CONSOLE" | tr '\n' ' ')"

check "QEMU holds the tap with vnet_hdr and the guest's TSO on"
flags=$(cat "/sys/class/net/$TAP/tun_flags")
say "$TAP tun_flags $flags"
((flags & 0x4000)) || fail "$TAP: tun_flags $flags lack IFF_VNET_HDR (0x4000)"
wait_until 10 bash -c "ethtool -k $TAP | grep -q '^tcp-segmentation-offload: on'" ||
  fail "$TAP: the host side shows TSO off: $(ethtool -k "$TAP" | grep -E '^(tcp-seg|tx-check)')"
guest_run 30 "ethtool -k eth0" || { show_guest; fail "ethtool in the guest failed"; }
grep -q "^tcp-segmentation-offload: on" <<<"$GUEST_OUT" ||
  fail "the guest's eth0 has TSO off: $(grep -E '^(tcp-seg|tx-check)' <<<"$GUEST_OUT")"
pass "tun_flags $flags; TSO on at the tap's host side and in the guest"

# ------------------------------------------------------------------ the peer and the switches
veth_to_ns "$NS" "$VETH" "$PEER_IP/24"
start_briskd

# reachable: the namespace pings the guest (ARP and learning settle; up to ~20 s).
reachable() {
  local n
  for n in $(seq 1 20); do
    ip netns exec "$NS" ping -c 1 -W 1 "$GUEST_IP" >/dev/null 2>&1 && return 0
    ((n % 5)) || say "no echo reply from the guest yet ($n)"
  done
  return 1
}

# tcp_rate <direction> <label>: iperf3 for TCP_SECS s, "g2p" (the guest's client to the
# namespace's server) or "p2g"; sets BPS to the receiver's bits/s (0 when iperf3 failed).
IPORT=5300
tcp_rate() {
  IPORT=$((IPORT + 1))
  if [[ $1 == g2p ]]; then
    guest_iperf g2p "$NS" "$PEER_IP" "$IPORT" "$TCP_SECS" "$TMPD/iperf-$IPORT.json"
  else
    guest_iperf p2g "$NS" "$GUEST_IP" "$GUEST_PORT" "$TCP_SECS" "$TMPD/iperf-$IPORT.json"
  fi
  ((GUEST_IPERF_BPS > 0)) || say "$2: TCP carried nothing"
  BPS=$GUEST_IPERF_BPS
}

declare -A RATE
# measure <run>: both directions; RATE[<run>,g2p] and RATE[<run>,p2g] in bits/s.
# Also prints the CPU time QEMU and briskd took during each direction (what competes for the
# two cores).
measure() {
  local run=$1 dir q0 b0 cpu=""
  for dir in g2p p2g; do
    q0=$(cpu_ticks "$QEMU_PID") b0=$(cpu_ticks "$BRISKD_PID")
    tcp_rate "$dir" "$run $dir"
    RATE[$run,$dir]=$BPS
    cpu+=" $dir: qemu $(cpu_secs "$q0" "$QEMU_PID") s, briskd $(cpu_secs "$b0" "$BRISKD_PID") s;"
  done
  say "$run: guest->peer $(mbit "${RATE[$run,g2p]}") Mbit/s, peer->guest $(mbit "${RATE[$run,p2g]}") Mbit/s"
  say "$run: CPU time${cpu%;}"
}
# cpu_ticks <pid>: user + system clock ticks of a process and its threads (/proc/<pid>/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu_secs <ticks before> <pid>: seconds of CPU since then.
cpu_secs() { $PY -c "import os; print('%.1f' % (($(cpu_ticks "$2") - $1) / os.sysconf('SC_CLK_TCK')))"; }
mbit() { $PY -c "print('%.1f' % ($1 / 1e6))"; }
ratio() { $PY -c "print('%.3f' % ($1 / $2 if $2 else 0))"; }
at_least() { $PY -c "import sys; sys.exit(0 if $1 >= $2 else 1)"; }

# port_report <port>: driver and the counters that tell where frames were lost.
port_report() {
  bk --json port | $PY -c '
import json, sys
p = [p for p in json.load(sys.stdin) if p["port"] == sys.argv[1]][0]
keys = ("driver", "afxdp_mode", "fastpath", "mtu", "rx_frames", "rx_bytes", "tx_frames", "dropped",
        "tx_segmented", "tx_csum_completed", "xsk")
print(", ".join("%s %s" % (k, p[k]) for k in keys if k in p))' "$1"
}
# drops_of <port>: the port's nonzero drop reasons (`--json stats`).
drops_of() {
  bk --json stats | $PY -c '
import json, sys
p = [p for p in json.load(sys.stdin)["ports"] if p["port"] == sys.argv[1]][0]
print(", ".join("%s %d" % kv for kv in sorted(p.get("drops", {}).items()) if kv[1]) or "none")' "$1"
}

# judge <run>: print each direction's ratio to the bridge and the 0.9x target; a rate under
# FLOOR x the bridge's is a (soft) failure, reported with brisk's counters of both ports as
# brisk_run saw them (COUNTERS[<run>], TAP_DRIVER[<run>]).
declare -A COUNTERS TAP_DRIVER
judge() {
  local run=$1 dir r ok=1
  for dir in g2p p2g; do
    r=$(ratio "${RATE[$run,$dir]}" "${RATE[ref,$dir]}")
    if at_least "$r" "$TARGET"; then
      say "$run $dir: ${r}x the kernel bridge: 0.9x target met"
    else
      say "$run $dir: ${r}x the kernel bridge: 0.9x target NOT met"
    fi
    if ! at_least "$r" "$FLOOR"; then
      ok=0
      fail_soft "$run $dir: $(mbit "${RATE[$run,$dir]}") Mbit/s is ${r}x the kernel bridge's \
$(mbit "${RATE[ref,$dir]}") Mbit/s, under the ${FLOOR}x floor: TCP crawls through brisk"
    fi
  done
  ((ok)) || echo "${COUNTERS[$run]}"
  if ! at_least "$(ratio "${RATE[$run,g2p]}" "${RATE[ref,g2p]}")" "$FLOOR" &&
    [[ ${TAP_DRIVER[$run]} == afxdp ]]; then
    say "  the guest's TSO frames (up to 64 KiB) leave QEMU's tap whole; on an AF_XDP port they"
    say "  must pass brisk's XDP program into the socket (the kernel's reason for each refusal is"
    say "  the tracepoint xdp:xdp_redirect_err; ENOSPC = longer than one UMEM buffer)"
  fi
  ((ok)) && pass "$run: TCP both ways above ${FLOOR}x the kernel bridge"
  return 0
}

# bridge_run <run>: the tap and the veth on a kernel bridge, measured, then taken off it.
bridge_run() {
  ip link add "$KBR" type bridge
  ip link set "$KBR" up
  ip link set "$TAP" master "$KBR"
  ip link set "$VETH" master "$KBR"
  reachable || { show_guest; fail "the namespace cannot ping the guest through the kernel bridge"; }
  measure "$1"
  ((RATE[$1,g2p] > 0 && RATE[$1,p2g] > 0)) ||
    { show_guest; fail "TCP through the kernel bridge failed (the reference): see above"; }
  ip link set "$TAP" nomaster
  ip link set "$VETH" nomaster
  ip link del "$KBR"
}

# ------------------------------------------------------------------ run 1: kernel bridge
check "run 1: the tap and the veth on a kernel bridge"
bridge_run bridge
pass "kernel bridge: reference rates measured"

# brisk_run <run> [driver <d>]: attach both devices, check reachability, measure, keep the
# counters, detach.
brisk_run() {
  local run=$1 p out
  shift
  for p in "$TAP" "$VETH"; do
    out=$(bk port add "$p" vlan "$VLAN" "$@" 2>&1) || fail "port add $p vlan $VLAN $*: $out"
    [[ -z $out ]] || say "port add $p vlan $VLAN $*: $out"
  done
  bk port
  ip -n "$NS" neigh flush all
  if reachable; then
    measure "$run"
  else
    fail_soft "$run: the namespace cannot ping the guest through brisk"
    RATE[$run,g2p]=0 RATE[$run,p2g]=0
  fi
  COUNTERS[$run]=""
  for p in "$TAP" "$VETH"; do
    COUNTERS[$run]+="[$TEST_NAME]   $p: $(port_report "$p"); drops: $(drops_of "$p")"$'\n'
  done
  COUNTERS[$run]=${COUNTERS[$run]%$'\n'}
  echo "${COUNTERS[$run]}"
  TAP_DRIVER[$run]=$(port_json "$TAP" driver)
  for p in "$TAP" "$VETH"; do bk port delete "$p" >/dev/null || fail "port delete $p"; done
  daemon_alive || fail "briskd died"
}

RUNS=()
# ------------------------------------------------------------------ run 2: brisk, default driver
check "run 2: the tap and the veth attached to brisk with the default driver"
brisk_run brisk-default
RUNS+=(brisk-default)

# ------------------------------------------------------------------ run 3: brisk, AF_PACKET
check "run 3: the tap and the veth attached to brisk with driver afpacket"
brisk_run brisk-afpacket driver afpacket
RUNS+=(brisk-afpacket)

for dir in g2p p2g; do RATE[ref,$dir]=${RATE[bridge,$dir]}; done
for run in "${RUNS[@]}"; do
  check "$run: TCP both ways against the kernel bridge"
  judge "$run"
done

say "summary (Mbit/s, ratio to the kernel bridge; TCG: compare, do not quote absolutes):"
for run in bridge "${RUNS[@]}"; do
  say "  $(printf '%-15s' "$run") guest->peer $(printf '%8s' "$(mbit "${RATE[$run,g2p]}")") \
($(ratio "${RATE[$run,g2p]}" "${RATE[ref,g2p]}")x)  peer->guest $(printf '%8s' "$(mbit "${RATE[$run,p2g]}")") \
($(ratio "${RATE[$run,p2g]}" "${RATE[ref,p2g]}")x)"
done
guest_alive || { show_guest; fail "QEMU exited"; }

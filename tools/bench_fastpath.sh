#!/usr/bin/env bash
# Frames/s of 64-byte frames between two veths through brisk, XDP fast path on vs off, and
# through a Linux bridge on the same veths for reference.
#   tools/bench_fastpath.sh [build dir] [runs] [seconds]     (root; default build 5 3)
# Topology: namespace G (generator, brisk-xdpgen send) - veth - brisk port (VLAN 10) ...
# brisk port (VLAN 10) - veth - namespace S (brisk-xdpgen sink: counts and drops). Both
# MACs are learned with a ping first. Prints each run and the median per mode. Everything is
# created with a random prefix and removed on exit; addresses from 198.18.0.0/15.
set -euo pipefail
B=${1:-build} RUNS=${2:-5} SECS=${3:-3}
P="bf$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
TMP=$(mktemp -d) SOCK=$TMP/sock D=""
cleanup() {
  set +e
  [[ -n "$D" ]] && kill "$D" && wait "$D" 2>/dev/null
  ip netns del "${P}g" 2>/dev/null; ip netns del "${P}s" 2>/dev/null
  ip link del "${P}g" 2>/dev/null; ip link del "${P}s" 2>/dev/null; ip link del "${P}kb" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
for n in g s; do
  ip netns add "$P$n"
  ip link add "$P$n" type veth peer name "${P}${n}n"
  ip link set "${P}${n}n" netns "$P$n"
  ip -n "$P$n" link set "${P}${n}n" name eth0
  ip netns exec "$P$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$P$n" link set eth0 up
  ip link set "$P$n" up
  ethtool -K "$P$n" gro on >/dev/null  # a veth takes XDP_TX/redirected frames only with NAPI
done
ip -n "${P}g" addr add 198.18.99.1/24 dev eth0
ip -n "${P}s" addr add 198.18.99.2/24 dev eth0
MAC_G=$(ip -n "${P}g" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
MAC_S=$(ip -n "${P}s" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run_rates: RUNS measurements through whatever connects the two host veth ends now.
run_rates() {
  rates=()
  for r in $(seq "$RUNS"); do
    ip netns exec "${P}s" "$B/brisk-xdpgen" sink eth0 1 "$SECS" >"$TMP/sink" &
    sp=$!
    sleep 0.5
    # (Re)learn both MACs: pings pass the sink.
    ip netns exec "${P}g" ping -c 2 -i 0.2 -W 1 198.18.99.2 >/dev/null
    ip netns exec "${P}g" "$B/brisk-xdpgen" send eth0 "$MAC_S" "$MAC_G" "$((SECS + 2))" >/dev/null
    wait "$sp"
    rates+=("$(tail -1 "$TMP/sink")")
  done
}

ip link add "${P}kb" type bridge
ip link set "${P}g" master "${P}kb"; ip link set "${P}s" master "${P}kb"; ip link set "${P}kb" up
run_rates
echo "linux bridge: runs ${rates[*]} frames/s; median $(printf '%s\n' "${rates[@]}" | median)"
ip link del "${P}kb"

for mode in off on; do
  "$B/briskd" --socket "$SOCK" --default-bridge "${P}br" --tap-prefix "${P}t" \
    --xdp-fastpath "$mode" >"$TMP/log" 2>&1 &
  D=$!
  for _ in $(seq 50); do "$B/brisk" --socket "$SOCK" bridge >/dev/null 2>&1 && break; sleep 0.1; done
  "$B/brisk" --socket "$SOCK" port add "${P}g" vlan 10 >/dev/null
  "$B/brisk" --socket "$SOCK" port add "${P}s" vlan 10 >/dev/null
  run_rates
  med=$(printf '%s\n' "${rates[@]}" | median)
  echo "fast path $mode: runs ${rates[*]} frames/s; median $med"
  "$B/brisk" --socket "$SOCK" port
  kill "$D"; wait "$D" 2>/dev/null || true; D=""
done

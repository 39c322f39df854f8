#!/usr/bin/env bash
# veth_tcp.sh <briskd> <brisk> [runs] [seconds] [mtu] [extra briskd options...]
#
# iperf3 TCP between two namespaces over veth pairs, default offloads, through the kernel
# bridge and through brisk (the same veths as system ports, the default driver), in the same
# run: 1 and 4 streams, `runs` runs each (default 3), Gbit/s per run and the median. Also
# prints what the namespace side of a brisk port says about TSO while brisk runs, and with
# mtu 9000 whether `ping -s 8972 -M do` crosses each switch.
#
# Everything it makes carries the prefix "vt<pid>" and is removed on exit: namespaces
# <p>a/<p>b, veths <p>a/<p>b (peers eth0 inside), bridge <p>br, briskd and iperf3 processes.
# Addresses 198.18.90.1/24 and .2. Needs root, iperf3, ethtool.
set -euo pipefail
BRISKD=${1:?briskd} BRISK=${2:?brisk}
RUNS=${3:-3} SECS=${4:-5} MTU=${5:-1500}
shift $(($# < 5 ? $# : 5))
P="vt$$"
TMP=$(mktemp -d /tmp/veth_tcp.XXXXXX)
BRISKD_PID="" IPERF_PID=""
cleanup() {
  set +e
  [[ -n $IPERF_PID ]] && kill "$IPERF_PID" 2>/dev/null && wait "$IPERF_PID" 2>/dev/null
  [[ -n $BRISKD_PID ]] && kill "$BRISKD_PID" 2>/dev/null && wait "$BRISKD_PID" 2>/dev/null
  ip link del "${P}br" 2>/dev/null
  for s in a b; do
    ip link del "$P$s" 2>/dev/null
    ip netns del "$P$s" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

for s in a b; do
  ip netns add "$P$s"
  ip link add "$P$s" mtu "$MTU" type veth peer name eth0 netns "$P$s"
  ip -n "$P$s" link set eth0 mtu "$MTU" up
  ip -n "$P$s" link set lo up
  ip netns exec "$P$s" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip link set "$P$s" up
done
ip -n "${P}a" addr add 198.18.90.1/24 dev eth0
ip -n "${P}b" addr add 198.18.90.2/24 dev eth0

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure <label>: iperf3 1 and 4 streams, RUNS each.
measure() {
  local label=$1 n r out g
  if [[ $MTU -gt 1500 ]]; then
    if ip netns exec "${P}a" ping -c 2 -i 0.3 -W 2 -s $((MTU - 28)) -M do 198.18.90.2 >/dev/null; then
      echo "$label: ping -s $((MTU - 28)) -M do: ok"
    else
      echo "$label: ping -s $((MTU - 28)) -M do: FAILED"
    fi
  fi
  for n in 1 4; do
    local all=()
    for r in $(seq 1 "$RUNS"); do
      ip netns exec "${P}b" iperf3 -s -1 -B 198.18.90.2 -p 5201 >/dev/null 2>&1 &
      IPERF_PID=$!
      sleep 0.3
      out=$(ip netns exec "${P}a" iperf3 -c 198.18.90.2 -p 5201 -t "$SECS" -P "$n" -J --connect-timeout 3000 || true)
      wait "$IPERF_PID" 2>/dev/null || true
      IPERF_PID=""
      g=$(python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out" 2>/dev/null || echo 0)
      all+=("$g")
    done
    echo "$label: $n stream(s): Gbit/s ${all[*]} median $(printf '%s\n' "${all[@]}" | median)"
  done
}

ip link add "${P}br" type bridge
ip link set "${P}br" mtu "$MTU" up
for s in a b; do ip link set "$P$s" master "${P}br"; done
ip netns exec "${P}a" ping -c 1 -W 2 198.18.90.2 >/dev/null
measure "kernel bridge"
ip link del "${P}br"

"$BRISKD" --socket "$TMP/s" --state "$TMP/state.json" --default-bridge "${P}bk" --tap-prefix "${P}t" "$@" \
  >"$TMP/briskd.log" 2>&1 &
BRISKD_PID=$!
for _ in $(seq 1 50); do [[ -S $TMP/s ]] && "$BRISK" --socket "$TMP/s" bridge >/dev/null 2>&1 && break; sleep 0.1; done
for s in a b; do "$BRISK" --socket "$TMP/s" port add "$P$s" vlan 10 >/dev/null; done
ip netns exec "${P}a" ping -c 3 -i 0.3 -W 2 198.18.90.2 >/dev/null || echo "brisk: ping failed"
"$BRISK" --socket "$TMP/s" port
echo "brisk: namespace side: $(ip netns exec "${P}a" ethtool -k eth0 | grep -E '^tcp-segmentation-offload')"
measure "brisk"
"$BRISK" --socket "$TMP/s" stats | sed -n '/drop reason/,$p'
"$BRISK" --socket "$TMP/s" --json port | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("kind") == "system":
        print("brisk: %s rx %d (fast path %d) tx %d (fast path %d) tc_fastpath %s" % (p["port"], p["rx_frames"],
              p["fastpath_rx_frames"], p["tx_frames"], p["fastpath_tx_frames"], p.get("tc_fastpath")))'

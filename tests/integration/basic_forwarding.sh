#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# Basic forwarding through briskd: two taps on VLAN 10 and one on VLAN 20, each in its own
# namespace, all addresses in one IPv4 subnet.
#   - VLAN 10 <-> VLAN 10 ping works
#   - VLAN 10 -> VLAN 20 ping fails, and the VLAN 20 host receives nothing
#   - the FDB lists both VLAN 10 MACs on the right taps
#   - `stats` counts frames in both directions on the VLAN 10 taps
#   - iperf3 TCP for 3 s between the VLAN 10 namespaces works (the rate is printed)
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping

need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c"
IP_A=198.18.10.1 IP_B=198.18.10.2 IP_C=198.18.10.3

T_A=$(bk tap create 10) || fail "tap create 10"
T_B=$(bk tap create 10) || fail "tap create 10"
T_C=$(bk tap create 20) || fail "tap create 20"
say "taps: $T_A (vlan 10, $NS_A), $T_B (vlan 10, $NS_B), $T_C (vlan 20, $NS_C)"
bk tap

ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
ns_add_tap "$NS_C" "$T_C" "$IP_C/24"
MAC_A=$(mac_of "$NS_A" "$T_A")
MAC_B=$(mac_of "$NS_B" "$T_B")
MAC_C=$(mac_of "$NS_C" "$T_C")
say "MACs: A=$MAC_A B=$MAC_B C=$MAC_C"
[[ -n "$MAC_A" && -n "$MAC_B" && -n "$MAC_C" ]] || fail "could not read the MAC addresses"

# ---------------------------------------------------------------- same VLAN
check "ping $NS_A -> $NS_B (both VLAN 10) succeeds"
if ip netns exec "$NS_A" ping -c 3 -W 2 "$IP_B"; then
  pass "VLAN 10 ping $IP_A -> $IP_B"
else
  fail "ping $IP_A -> $IP_B on VLAN 10 failed"
fi

check "ping $NS_B -> $NS_A (both VLAN 10) succeeds"
ip netns exec "$NS_B" ping -c 3 -W 2 "$IP_A" >/dev/null || fail "ping $IP_B -> $IP_A on VLAN 10 failed"
pass "VLAN 10 ping $IP_B -> $IP_A"

# ---------------------------------------------------------------- across VLANs
check "ping $NS_A (VLAN 10) -> $NS_C (VLAN 20) fails and $NS_C receives nothing"
rx_c_before=$(rx_packets "$NS_C" "$T_C")
if ip netns exec "$NS_A" ping -c 3 -W 1 "$IP_C" >/dev/null 2>&1; then
  fail "ping from VLAN 10 reached VLAN 20 ($IP_A -> $IP_C)"
fi
rx_c_after=$(rx_packets "$NS_C" "$T_C")
((rx_c_after == rx_c_before)) ||
  fail "$T_C (VLAN 20) received $((rx_c_after - rx_c_before)) frames while VLAN 10 was pinging it"
pass "no reachability from VLAN 10 to VLAN 20 (VLAN 20 host got 0 frames)"

check "ping $NS_C (VLAN 20) -> $NS_A (VLAN 10) fails"
if ip netns exec "$NS_C" ping -c 2 -W 1 "$IP_A" >/dev/null 2>&1; then
  fail "ping from VLAN 20 reached VLAN 10 ($IP_C -> $IP_A)"
fi
pass "no reachability from VLAN 20 to VLAN 10"

# ---------------------------------------------------------------- FDB
check "fdb show $BR lists $MAC_A on $T_A and $MAC_B on $T_B in VLAN 10"
bk fdb show "$BR"
p=$(fdb_port 10 "$MAC_A")
[[ "$p" == "$T_A" ]] || fail "fdb: $MAC_A vlan 10 is on '${p}', want $T_A"
p=$(fdb_port 10 "$MAC_B")
[[ "$p" == "$T_B" ]] || fail "fdb: $MAC_B vlan 10 is on '${p}', want $T_B"
# A's MAC must not have been learned in VLAN 20 or on the VLAN 20 tap.
p=$(fdb_port 20 "$MAC_A")
[[ -z "$p" ]] || fail "fdb: $MAC_A appears in VLAN 20 (port $p)"
pass "FDB has both VLAN 10 MACs on the right taps"

# ---------------------------------------------------------------- stats
check "stats shows nonzero rx and tx frames on $T_A and $T_B"
bk stats
for t in "$T_A" "$T_B"; do
  rx=$(stat_of "$t" rx_frames)
  tx=$(stat_of "$t" tx_frames)
  say "$t: rx_frames=$rx tx_frames=$tx"
  [[ "$rx" =~ ^[0-9]+$ && "$tx" =~ ^[0-9]+$ ]] || fail "stats has no numeric row for $t"
  ((rx > 0)) || fail "stats: rx_frames of $t is 0"
  ((tx > 0)) || fail "stats: tx_frames of $t is 0"
done
# Sanity: the daemon's rx on A's tap counts what A's kernel sent (at least the 6 pings).
tx_a=$(tx_packets "$NS_A" "$T_A")
rx_a=$(stat_of "$T_A" rx_frames)
((rx_a >= 6)) || fail "stats: rx_frames of $T_A is $rx_a, but A sent >= 6 ICMP/ARP frames (kernel tx $tx_a)"
pass "stats counts traffic on the VLAN 10 taps"

# ---------------------------------------------------------------- iperf3
if ! command -v iperf3 >/dev/null 2>&1; then
  say "SKIP (iperf3 part): iperf3 is not installed"
else
  check "iperf3 TCP for 3 s $NS_A -> $NS_B"
  ip netns exec "$NS_B" iperf3 -s -1 -B "$IP_B" -p 5201 >"$TMPD/iperf3-server.log" 2>&1 &
  track_pid $!
  server_up() { ip netns exec "$NS_B" ss -ltn 2>/dev/null | contains "$IP_B:5201"; }
  wait_until 5 server_up || fail "iperf3 server did not start: $(cat "$TMPD/iperf3-server.log")"
  if ! timeout 30 ip netns exec "$NS_A" iperf3 -c "$IP_B" -p 5201 -t 3 -J >"$TMPD/iperf3.json" 2>"$TMPD/iperf3.err"; then
    cat "$TMPD/iperf3.err" "$TMPD/iperf3.json" >&2 || true
    fail "iperf3 client failed"
  fi
  if [[ -n "$PY" ]]; then
    rate=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    sys.exit("iperf3 error: " + d["error"])
print("%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))
' "$TMPD/iperf3.json") || fail "cannot read the iperf3 result"
  elif command -v jq >/dev/null 2>&1; then
    rate=$(jq -r '.end.sum_received.bits_per_second / 1e9' "$TMPD/iperf3.json") ||
      fail "cannot read the iperf3 result"
  else
    fail "need python3 or jq to read the iperf3 JSON"
  fi
  say "iperf3 TCP $NS_A -> $NS_B: $rate Gbit/s"
  awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || fail "iperf3 measured $rate Gbit/s"
  pass "iperf3 TCP through briskd: $rate Gbit/s"
fi

check "the daemon is still alive"
daemon_alive || fail "briskd died"
bk bridge >/dev/null || fail "briskd does not answer"
pass "daemon alive"

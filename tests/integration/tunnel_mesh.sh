#!/usr/bin/env bash
# Three hosts (namespaces N1..N3, each with its own briskd) joined by a full mesh of tunnels:
#   underlay: N1..N3 eth0 198.18.40.{1,2,3}/24 on a kernel bridge in namespace U
#   N1<->N2 VXLAN VNI 100, N1<->N3 GRE key 100, N2<->N3 VXLAN VNI 0 (no key)
#   taps: VLAN 10 on every host -> namespaces A1..A3 with 198.18.41.{1,2,3}/24
#         VLAN 20 on N1 and N3 -> B1, B3 with 198.18.42.{1,3}/24; VLAN 20 on N2 -> B2 with
#         198.18.41.22/24 (VLAN 10's subnet: reaching it would mean a VLAN leak)
# Checks: every pair of VLAN 10 taps pings, VLAN 20 too (B1 <-> B3); VLAN 10 never reaches
# VLAN 20; one broadcast from A1 arrives exactly once at A2 and A3 (split horizon: no loop,
# no duplicate) and never at A1 or a VLAN 20 tap; TCP through the mesh (rate printed).
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump iperf3
need_netns
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import scapy' 2>/dev/null || skip "scapy (python3-scapy) missing"

NS_U="${PFX}-u"
ns_create "$NS_U"
ip -n "$NS_U" link add ub type bridge
ip -n "$NS_U" link set ub up
for i in 1 2 3; do
  ns_create "${PFX}-n$i"
  veth_between "${PFX}-n$i" eth0 "198.18.40.$i/24" "$NS_U" "p$i" ""
  ip -n "$NS_U" link set "p$i" master ub
  start_briskd_in "${PFX}-n$i" "h$i"
done

check "full mesh of tunnels"
t12=$(bkn h1 bridge tunnel vxlan "$BR" 198.18.40.2 100) || fail "h1 -> h2 vxlan"
t21=$(bkn h2 bridge tunnel vxlan "$BR" 198.18.40.1 100) || fail "h2 -> h1 vxlan"
t13=$(bkn h1 bridge tunnel gre "$BR" 198.18.40.3 100) || fail "h1 -> h3 gre"
t31=$(bkn h3 bridge tunnel gre "$BR" 198.18.40.1 100) || fail "h3 -> h1 gre"
t23=$(bkn h2 bridge tunnel vxlan "$BR" 198.18.40.3) || fail "h2 -> h3 vxlan"
t32=$(bkn h3 bridge tunnel vxlan "$BR" 198.18.40.2) || fail "h3 -> h2 vxlan"
bkn h1 bridge | table_rows | awk -F'|' '{print $5}' | contains -F "[$t12 $t13]" || fail "h1 tunnels not listed"
say "h1: $t12 $t13  h2: $t21 $t23  h3: $t31 $t32"
for i in 1 2 3; do
  a=$(bkn "h$i" tap create 10) || fail "tap create 10 on h$i"
  move_tap "${PFX}-n$i" "$a" "${PFX}-a$i" "198.18.41.$i/24"
  eval "TAP_A$i=$a"
  b=$(bkn "h$i" tap create 20) || fail "tap create 20 on h$i"
  if [[ $i == 2 ]]; then
    move_tap "${PFX}-n$i" "$b" "${PFX}-b$i" 198.18.41.22/24
  else
    move_tap "${PFX}-n$i" "$b" "${PFX}-b$i" "198.18.42.$i/24"
  fi
  eval "TAP_B$i=$b"
done
pass "six tunnels, two taps per host"

check "VLAN 10 taps reach each other across the mesh; VLAN 20 too"
for i in 1 2 3; do
  for j in 1 2 3; do
    [[ $i == "$j" ]] && continue
    ip netns exec "${PFX}-a$i" ping -c 2 -i 0.2 -W 2 "198.18.41.$j" >/dev/null ||
      fail "A$i -> A$j (VLAN 10) failed"
  done
done
ip netns exec "${PFX}-b1" ping -c 2 -i 0.2 -W 2 198.18.42.3 >/dev/null || fail "B1 -> B3 (VLAN 20) failed"
ip netns exec "${PFX}-b3" ping -c 2 -i 0.2 -W 2 198.18.42.1 >/dev/null || fail "B3 -> B1 (VLAN 20) failed"
pass "all six VLAN 10 pairs and the VLAN 20 pair ping"

check "VLAN 10 does not reach VLAN 20"
for i in 1 3; do
  if ip netns exec "${PFX}-a$i" ping -c 2 -W 1 198.18.41.22 >/dev/null 2>&1; then
    fail "A$i reached B2 (VLAN 20) from VLAN 10"
  fi
done
pass "no VLAN leak across the mesh"

check "a broadcast is delivered exactly once per host"
cap() {  # cap <ns> <dev> <file>: inbound frames of ethertype 0x88b5
  ip netns exec "$1" tcpdump -i "$2" -n -Q in -U -w "$3" ether proto 0x88b5 >/dev/null 2>&1 &
  track_pid $!
  CAP_PIDS+=($!)
}
CAP_PIDS=()
for i in 1 2 3; do
  eval "cap ${PFX}-a$i \$TAP_A$i $TMPD/a$i.pcap"
  eval "cap ${PFX}-b$i \$TAP_B$i $TMPD/b$i.pcap"
done
sleep 1.5
ip netns exec "${PFX}-a1" /usr/bin/python3 -c '
import sys
from scapy.all import conf, sendp, Ether, Raw
conf.verb = 0
sendp(Ether(src="02:00:00:00:77:01", dst="ff:ff:ff:ff:ff:ff", type=0x88b5) / Raw(b"brisk-mesh-broadcast" * 3), iface=sys.argv[1])
' "$TAP_A1"
sleep 2
for p in "${CAP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
count() { tcpdump -n -e -r "$1" 2>/dev/null | grep -c "ethertype Unknown (0x88b5)" || true; }
for i in 2 3; do
  n=$(count "$TMPD/a$i.pcap")
  say "A$i received the broadcast $n time(s)"
  [[ "$n" == 1 ]] || fail "A$i received the broadcast $n times, want exactly 1"
done
n=$(count "$TMPD/a1.pcap")
[[ "$n" == 0 ]] || fail "the broadcast came back to its sender A1 ($n times)"
for i in 1 2 3; do
  n=$(count "$TMPD/b$i.pcap")
  [[ "$n" == 0 ]] || fail "VLAN 20 tap B$i received the VLAN 10 broadcast"
done
for i in 1 2 3; do
  bkn "h$i" stats | contains tunnel_ && fail "tunnel drops on h$i: $(bkn "h$i" stats)"
done
pass "exactly once at A2 and A3, never back at A1, never on VLAN 20"

check "TCP through the mesh (A1 -> A2 over VXLAN, A1 -> A3 over GRE)"
# Taps at MTU 1450 so that inner frames plus 50 bytes of VXLAN fit the 1500-byte underlay.
for i in 1 2 3; do eval "ip -n ${PFX}-a$i link set \$TAP_A$i mtu 1450"; done
for j in 2 3; do
  ip netns exec "${PFX}-a$j" iperf3 -s -1 -B "198.18.41.$j" -p 5310 >/dev/null 2>&1 &
  track_pid $!
  sleep 0.5
  ip netns exec "${PFX}-a1" iperf3 -c "198.18.41.$j" -p 5310 -t 2 -J >"$TMPD/iperf$j.json" ||
    fail "iperf3 A1 -> A$j failed: $(tail -5 "$TMPD/iperf$j.json")"
  bps=$($PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$TMPD/iperf$j.json")
  say "A1 -> A$j: $((bps / 1000000)) Mbit/s"
  ((bps > 0)) || fail "no data A1 -> A$j"
done
pass "TCP crosses VXLAN and GRE tunnels"

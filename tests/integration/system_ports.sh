#!/usr/bin/env bash
# System ports: existing veth ends attached with `port add`, one per driver.
#   - ${PFX}xa (AF_XDP, VLAN 10), ${PFX}pb (AF_PACKET, VLAN 10), ${PFX}xc (AF_XDP, VLAN 20);
#     the other ends sit in namespaces A, B, C with default offloads (checksum offload, TSO)
#   - `port` lists each with its driver; AF_XDP really attached an XDP program
#   - ping A <-> B works across the two drivers; A -> C (VLAN 20) does not
#   - iperf3 TCP A -> B and B -> A with default offloads moves data (rates printed)
#   - ${PFX}xd (AF_XDP, VLAN 20, namespace D): C and D share their worker's UMEM; ping and
#     iperf3 between them work, through userspace without copies when the XDP fast path is
#     off (tx_zero_copy), and again after D's port is deleted and added while C stays
#   - deleting B's veth while attached: the port is removed, briskd lives, A and C keep
#     their configuration; `port delete` detaches the XDP program
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping iperf3
need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c" NS_D="${PFX}-d"
IP_A=198.18.11.1 IP_B=198.18.11.2 IP_C=198.18.11.3 IP_D=198.18.11.4
H_A="${PFX}xa" H_B="${PFX}pb" H_C="${PFX}xc" H_D="${PFX}xd"

veth_to_ns "$NS_A" "$H_A" "$IP_A/24"
veth_to_ns "$NS_B" "$H_B" "$IP_B/24"
veth_to_ns "$NS_C" "$H_C" "$IP_C/24"
veth_to_ns "$NS_D" "$H_D" "$IP_D/24"

check "port add with each driver"
bk port add "$H_A" vlan 10 driver afxdp || fail "port add $H_A driver afxdp"
bk port add "$H_B" vlan 10 driver afpacket || fail "port add $H_B driver afpacket"
bk port add "$H_C" vlan 20 || fail "port add $H_C (default driver)"
bk port
bk port | table_rows | contains "^${H_A}|.*afxdp" || fail "$H_A not listed with driver afxdp"
bk port | table_rows | contains "^${H_B}|.*afpacket" || fail "$H_B not listed with driver afpacket"
ip -d link show dev "$H_A" | contains "xdp" || fail "no XDP program on $H_A"
pass "ports listed with their drivers; XDP attached to $H_A"

check "a second port add of the same device is refused"
if bk port add "$H_A" vlan 10 2>"$TMPD/err"; then fail "duplicate port add accepted"; fi
contains "^E: " "$TMPD/err" || fail "error does not start with 'E: ': $(cat "$TMPD/err")"
if bk port add "${PFX}nodev" vlan 10 2>"$TMPD/err"; then fail "port add of a missing device accepted"; fi
cat "$TMPD/err"
pass "duplicate and missing devices refused"

check "ping across the two drivers (VLAN 10), not into VLAN 20"
ip netns exec "$NS_A" ping -c 3 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
ip netns exec "$NS_B" ping -c 3 -W 2 "$IP_A" >/dev/null || fail "ping $IP_B -> $IP_A failed"
if ip netns exec "$NS_A" ping -c 2 -W 1 "$IP_C" >/dev/null 2>&1; then
  fail "VLAN 10 reached VLAN 20 through system ports"
fi
pass "VLAN 10 connected across afxdp and afpacket, VLAN 20 isolated"

check "iperf3 TCP with default offloads, both directions"
ip netns exec "$NS_B" iperf3 -s -1 -B "$IP_B" -p 5301 >"$TMPD/iperf-s1" 2>&1 &
track_pid $!
sleep 0.5
ip netns exec "$NS_A" iperf3 -c "$IP_B" -p 5301 -t 3 -J >"$TMPD/iperf1.json" ||
  fail "iperf3 $IP_A -> $IP_B failed: $(tail -5 "$TMPD/iperf1.json")"
ip netns exec "$NS_A" iperf3 -s -1 -B "$IP_A" -p 5302 >"$TMPD/iperf-s2" 2>&1 &
track_pid $!
sleep 0.5
ip netns exec "$NS_B" iperf3 -c "$IP_A" -p 5302 -t 3 -J >"$TMPD/iperf2.json" ||
  fail "iperf3 $IP_B -> $IP_A failed: $(tail -5 "$TMPD/iperf2.json")"
for f in iperf1 iperf2; do
  bps=$($PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$TMPD/$f.json")
  say "$f: $((bps / 1000000)) Mbit/s"
  ((bps > 0)) || fail "$f moved no data"
done
pass "TCP through AF_XDP <-> AF_PACKET works both ways"

check "AF_XDP ports of one worker share a UMEM (C <-> D, VLAN 20)"
bk port add "$H_D" vlan 20 driver afxdp || fail "port add $H_D driver afxdp"
# port_py <port> <python expression over p>: of the port's `--json port` entry.
port_py() {
  "$BRISK_BIN" --socket "$SOCK" --json port |
    $PY -c 'import json,sys; p=[x for x in json.load(sys.stdin) if x["port"]==sys.argv[1]][0]; print(eval(sys.argv[2]))' "$1" "$2"
}
for h in "$H_C" "$H_D"; do
  [[ $(port_json "$h" afxdp_umem) == shared ]] || fail "$h is not in a shared UMEM: $(port_py "$h" 'p')"
done
# MTU-sized frames from C: with TSO (a veth's peer keeps it under generic XDP) C's data would
# be super-frames, gathered and cut in userspace, never sent from the buffer they came in.
ip netns exec "$NS_C" ethtool -K eth0 tso off >/dev/null || fail "ethtool -K eth0 tso off in $NS_C"
ip netns exec "$NS_C" ping -c 3 -W 2 "$IP_D" >/dev/null || fail "ping $IP_C -> $IP_D failed"
ip netns exec "$NS_D" iperf3 -s -1 -B "$IP_D" -p 5303 >"$TMPD/iperf-s3" 2>&1 &
track_pid $!
sleep 0.5
ip netns exec "$NS_C" iperf3 -c "$IP_D" -p 5303 -t 2 -J >"$TMPD/iperf3.json" ||
  fail "iperf3 $IP_C -> $IP_D failed: $(tail -5 "$TMPD/iperf3.json")"
bps=$($PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$TMPD/iperf3.json")
zc_c=$(port_json "$H_C" tx_zero_copy) zc_d=$(port_json "$H_D" tx_zero_copy)
say "iperf3 C -> D: $((bps / 1000000)) Mbit/s; sent without a copy: $zc_d to D, $zc_c to C"
say "D: $(port_py "$H_D" 'p["umem"], p["xsk"]')"
((bps > 0)) || fail "iperf3 C -> D moved no data"
if [[ ${BRISK_TEST_BRISKD_ARGS:-} == *"--xdp-fastpath off"* ]]; then
  # Every frame between C and D goes through userspace: TCP data to D, ACKs to C.
  ((zc_d > 1000 && zc_c > 100)) || fail "too few zero-copy transmissions: $zc_d to D, $zc_c to C"
fi
bk port delete "$H_D" || fail "port delete $H_D"
bk port add "$H_D" vlan 20 driver afxdp || fail "port add $H_D again"
[[ $(port_json "$H_D" afxdp_umem) == shared ]] || fail "$H_D re-added outside the shared UMEM"
ip netns exec "$NS_C" ping -c 3 -W 2 "$IP_D" >/dev/null || fail "ping $IP_C -> $IP_D failed after re-adding $H_D"
pass "C and D share a UMEM; TCP between them works, also after D was deleted and added"

check "a vanished device is removed, the rest keeps working"
ip link del "$H_B"
wait_until 5 bash -c "! '$BRISK_BIN' --socket '$SOCK' port | grep -q '^ *${H_B} '" ||
  fail "$H_B still listed 5 s after its device was deleted"
daemon_alive || fail "briskd died when $H_B vanished"
bk port | table_rows | contains "^${H_A}|" || fail "$H_A lost"
bk port | table_rows | contains "^${H_C}|" || fail "$H_C lost"
pass "port $H_B removed; $H_A and $H_C kept"

check "port delete detaches XDP"
bk port delete "$H_A" || fail "port delete $H_A"
wait_until 5 bash -c "! ip -d link show dev '$H_A' | grep -q xdp" || fail "XDP program still attached to $H_A"
pass "XDP detached from $H_A"

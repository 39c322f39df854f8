#!/usr/bin/env bash
# QinQ (dot1q-tunnel ports) with real devices. This kernel has no 802.1Q (TESTBED.md): the
# customers' tagged frames are crafted with scapy and what leaves brisk is read from raw
# captures with tshark (-e vlan.id lists every tag, outer first).
#   - service VLAN 100: a dot1q-tunnel host tap Q1 (namespace), a dot1q-tunnel AF_XDP veth
#     Q2, an access veth A; a trunk veth T (every VLAN); service VLAN 200: a dot1q-tunnel
#     tap R (another customer)
#   - `port` / `tap` / --json show the mode; Q2 is never accelerated by the XDP fast path
#     while T and A are
#   - from Q1, customer-tagged (VID 7) and untagged: T gets 100,7 (0x8100/0x8100) and 100;
#     Q2 gets 7 and untagged (as sent); A gets both untagged (the customer tag popped); R
#     nothing
#   - from T, outer 100 + inner 7 to the customer's MAC: Q1 gets it with tag 7 only
#   - from T, outer 100 + inner 7 to A's learned MAC, while T and A are accelerated: A gets
#     every frame untagged and the fast path leaves them to userspace (its counters do not
#     move); single-tagged 100 frames to A do take the fast path (the pair is eligible)
#   - briskd restarted with the same state file: the dot1q-tunnel tap and port come back as
#     dot1q-tunnel ports and Q2's customer frames reach T double-tagged again
source "$(dirname "$0")/lib.sh" "$@"
need_tool tcpdump tshark ethtool
need_netns
need_scapy
[[ -n "$PY" ]] || skip "python3 is not installed (JSON parsing)"

NS_Q1="${PFX}-q1" NS_Q2="${PFX}-q2" NS_A="${PFX}-a" NS_T="${PFX}-t" NS_R="${PFX}-r"
T_Q1="${PFX}q1" T_R="${PFX}r" H_Q2="${PFX}q2" H_A="${PFX}a" H_T="${PFX}tr"
C1=02:00:00:00:c1:01   # the customer behind Q1
C3=02:00:00:00:c3:03   # the customer behind Q2
C2=02:00:00:00:c2:02   # a host behind the trunk
HA=02:00:00:00:a0:01   # the host behind the access port
BCAST=ff:ff:ff:ff:ff:ff

# ------------------------------------------------------------------ captures and frames
CAPS=()
# cap_start <name> <ns> <dev>: capture our test MACs' frames on <dev> into $TMPD/<name>.pcap.
cap_start() {
  local name=$1 ns=$2 dev=$3
  # --immediate-mode: frames reach the file as they arrive, not when libpcap's ring block is
  # retired (up to a second later, and lost when tcpdump is stopped before that).
  ip netns exec "$ns" tcpdump --immediate-mode -U -p -i "$dev" -nn -w "$TMPD/$name.pcap" \
    "ether src $C1 or ether src $C2 or ether src $C3 or ether src $HA" 2>"$TMPD/$name.err" &
  local pid=$!
  track_pid "$pid"
  CAPS+=("$pid")
  wait_until 5 contains "listening on" "$TMPD/$name.err" || fail "tcpdump on $ns/$dev did not start: $(cat "$TMPD/$name.err")"
}
cap_stop() {
  sleep 1
  local p
  for p in "${CAPS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${CAPS[@]}"; do wait "$p" 2>/dev/null || true; done
  CAPS=()
}
# cap_frames <name>: one line per captured frame: "<source MAC> <VLAN ids, outer first | ->".
cap_frames() {
  tshark -r "$TMPD/$1.pcap" -T fields -e eth.src -e vlan.id 2>/dev/null |
    awk -F'\t' '{ print $1, ($2 == "" ? "-" : $2) }'
}
# expect_frames <name> <expected lines (sorted, uniq -c style: "<count> <src> <vlans>")>
expect_frames() {
  local name=$1 want=$2 got
  got=$(cap_frames "$name" | sort | uniq -c | awk '{ print $1, $2, $3 }')
  say "  $name: $(echo "$got" | tr '\n' ';')"
  [[ "$got" == "$want" ]] || fail "$name captured [$(echo "$got" | tr '\n' ';')], want [$(echo "$want" | tr '\n' ';')]"
}
# send_frames <ns> <dev> <count> <src> <dst> <vid>...: <count> IPv4/UDP frames with the given
# 802.1Q tags (outer first; none: untagged), 50 ms apart.
send_frames() {
  local ns=$1 dev=$2 n=$3 src=$4 dst=$5
  shift 5
  ip netns exec "$ns" /usr/bin/python3 - "$dev" "$n" "$src" "$dst" "$@" <<'EOF'
import sys, time
from scapy.all import Ether, Dot1Q, IP, UDP, Raw, sendp
dev, n, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
frame = Ether(src=src, dst=dst)
for vid in sys.argv[5:]:
    frame = frame / Dot1Q(vlan=int(vid))
frame = frame / IP(src="198.18.40.1", dst="198.18.40.2") / UDP(sport=4000, dport=4001) / Raw(b"brisk-qinq")
for _ in range(n):
    sendp(frame, iface=dev, verbose=False)
    time.sleep(0.05)
EOF
}

egress_ready() { [[ $(port_json "$1" xdp_egress) == true ]]; }

# ------------------------------------------------------------------ set up
start_briskd
# Veths without addresses, GRO on in the namespaces (a veth takes XDP-redirected frames only
# then).
veth_to_ns "$NS_Q2" "$H_Q2" - gro
veth_to_ns "$NS_A" "$H_A" - gro
veth_to_ns "$NS_T" "$H_T" - gro

check "dot1q-tunnel tap, dot1q-tunnel AF_XDP port, access and trunk ports"
bk tap create 100 name "$T_Q1" >/dev/null || fail "tap create $T_Q1"
bk port vlan "$T_Q1" dot1q-tunnel 100 || fail "port vlan $T_Q1 dot1q-tunnel 100"
bk tap create 200 name "$T_R" >/dev/null || fail "tap create $T_R"
bk port vlan "$T_R" dot1q-tunnel 200 || fail "port vlan $T_R dot1q-tunnel 200"
bk port add "$H_Q2" dot1q-tunnel 100 driver afxdp >/dev/null || fail "port add $H_Q2 dot1q-tunnel 100"
bk port add "$H_A" vlan 100 driver afxdp >/dev/null || fail "port add $H_A"
bk port add "$H_T" trunk driver afxdp >/dev/null || fail "port add $H_T trunk"
ns_add_tap "$NS_Q1" "$T_Q1" 198.18.40.11/24
ns_add_tap "$NS_R" "$T_R" 198.18.40.12/24
bk port
bk tap
bk port | table_rows | contains "^${T_Q1}|${BR}|tap|dot1q-tunnel|100|" || fail "$T_Q1 not listed as dot1q-tunnel 100"
bk port | table_rows | contains "^${H_Q2}|${BR}|system/afxdp|dot1q-tunnel|100|" || fail "$H_Q2 not listed as dot1q-tunnel 100"
bk tap | table_rows | contains "^${BR}|${T_Q1}|100 dot1q-tunnel$" || fail "tap listing lacks '100 dot1q-tunnel' for $T_Q1"
[[ $(port_json "$H_Q2" mode) == dot1q-tunnel ]] || fail "--json port: mode of $H_Q2 is $(port_json "$H_Q2" mode)"
[[ $(port_json "$H_Q2" xdp_fastpath) == false ]] || fail "$H_Q2 (dot1q-tunnel) is accelerated by the XDP fast path"
if [[ $(bk --json stats | "$PY" -c 'import json,sys; print(str(json.load(sys.stdin)["xdp_fastpath"]).lower())') == true ]]; then
  FASTPATH=1
  wait_until 10 egress_ready "$H_T" || fail "$H_T never became an XDP egress"
  wait_until 10 egress_ready "$H_A" || fail "$H_A never became an XDP egress"
  say "XDP fast path on: $H_T and $H_A accelerated, $H_Q2 not"
else
  FASTPATH=0
  say "XDP fast path off in this briskd ($BRISK_TEST_BRISKD_ARGS): its checks are skipped"
fi
pass "ports listed with their VLAN modes"

# ------------------------------------------------------------------ customer -> everyone
check "customer frames from Q1: trunk 100,7 / 100; Q2 as sent; access untagged; R nothing"
cap_start t "$NS_T" eth0
cap_start q2 "$NS_Q2" eth0
cap_start a "$NS_A" eth0
cap_start r "$NS_R" "$T_R"
send_frames "$NS_Q1" "$T_Q1" 3 "$C1" "$BCAST" 7
send_frames "$NS_Q1" "$T_Q1" 2 "$C1" "$BCAST"
cap_stop
expect_frames t "2 $C1 100
3 $C1 100,7"
expect_frames q2 "2 $C1 -
3 $C1 7"
expect_frames a "5 $C1 -"
expect_frames r ""
pass "service tag pushed toward the trunk, customer tag kept (Q2) or popped (access)"

# ------------------------------------------------------------------ trunk -> customer
check "double-tagged from the trunk to the customer's MAC reaches Q1 with its inner tag only"
cap_start q1 "$NS_Q1" "$T_Q1"
cap_start q2 "$NS_Q2" eth0
cap_start a "$NS_A" eth0
send_frames "$NS_T" eth0 3 "$C2" "$C1" 100 7
cap_stop
expect_frames q1 "3 $C2 7"
expect_frames q2 ""
expect_frames a ""
[[ $(fdb_port 100 "$C1") == "$T_Q1" ]] || fail "$C1 not learned on $T_Q1 in VLAN 100: $(bk fdb show)"
[[ $(fdb_port 100 "$C2") == "$H_T" ]] || fail "$C2 not learned on $H_T in VLAN 100"
pass "QinQ both ways between a trunk and a dot1q-tunnel tap"

# ------------------------------------------------------------------ the XDP fast path
check "trunk -> access with a customer tag: popped by userspace, never by the fast path"
send_frames "$NS_A" eth0 1 "$HA" "$BCAST"  # A's host is learned on the access port
sleep 0.5
cap_start a "$NS_A" eth0
t_fp0=$(port_json "$H_T" fastpath_rx_frames)
send_frames "$NS_T" eth0 20 "$C2" "$HA" 100 7
t_fp1=$(port_json "$H_T" fastpath_rx_frames)
send_frames "$NS_T" eth0 20 "$C2" "$HA" 100
t_fp2=$(port_json "$H_T" fastpath_rx_frames)
cap_stop
expect_frames a "40 $C2 -"
say "fast-path frames received on $H_T: double-tagged burst $((t_fp1 - t_fp0)), single-tagged burst $((t_fp2 - t_fp1))"
if ((FASTPATH)); then
  ((t_fp1 == t_fp0)) || fail "the fast path forwarded $((t_fp1 - t_fp0)) double-tagged frames to the access port"
  ((t_fp2 - t_fp1 >= 10)) || fail "single-tagged frames $C2 -> $HA did not take the fast path ($((t_fp2 - t_fp1)))"
fi
pass "every frame reached the access port untagged"

# ------------------------------------------------------------------ restart
check "restart with the same state file: dot1q-tunnel ports come back and forward"
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
start_briskd
bk port
[[ $(port_json "$T_Q1" mode) == dot1q-tunnel && $(port_json "$T_Q1" vlan) == 100 ]] ||
  fail "$T_Q1 after the restart: mode $(port_json "$T_Q1" mode) vlan $(port_json "$T_Q1" vlan)"
[[ $(port_json "$H_Q2" mode) == dot1q-tunnel && $(port_json "$H_Q2" vlan) == 100 ]] ||
  fail "$H_Q2 after the restart: mode $(port_json "$H_Q2" mode) vlan $(port_json "$H_Q2" vlan)"
[[ $(port_json "$T_R" vlan) == 200 ]] || fail "$T_R after the restart: vlan $(port_json "$T_R" vlan)"
cap_start t "$NS_T" eth0
send_frames "$NS_Q2" eth0 3 "$C3" "$BCAST" 9
cap_stop
expect_frames t "3 $C3 100,9"
daemon_alive || fail "briskd died"
pass "QinQ configuration replayed from the state file"

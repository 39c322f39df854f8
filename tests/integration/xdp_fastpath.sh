#!/usr/bin/env bash
# The XDP fast path (bpf/brisk_xdp.c, datapath/xdp_fastpath.hpp) between AF_XDP veth ports,
# XDP attached in native mode (`--afxdp-xdp native`).
#   Topology: veth ends ${PFX}a, ${PFX}b, ${PFX}e (access VLAN 10), ${PFX}c (access VLAN 20),
#   ${PFX}d (trunk 10,20) attached with `port add`; the other ends ("eth0") in namespaces with
#   default offloads and GRO on (a veth takes XDP-redirected frames only when its peer has
#   NAPI: GRO or an XDP program), except E, whose GRO stays off.
#   With the fast path on:
#     - `port` marks the ports accelerated; ping A <-> B works and the fast-path counters grow;
#       A -> C (VLAN 20) fails and C's fast-path counters stay 0 (VLAN isolation);
#     - iperf3 TCP A -> B with default offloads works (partial checksums: the tc half);
#     - trunk D: scapy sends VLAN-10-tagged frames to A; A receives them untagged through the
#       fast path (tag popped); A's pings to D's MAC leave D tagged with VLAN 10 (pushed);
#     - E without GRO: shown as xdp-in (no XDP redirects toward it), ping A <-> E works and
#       the fast path's tc half carries the frames toward E;
#     - ageing 3 s: a steady fast-path ping keeps its entries alive (no re-learning);
#     - MAC move: E takes A's MAC and address; B's replies follow the move to E;
#     - port delete removes the port's entries from the fast path's FDB map.
#     - mirrors in the kernel: `tap mirror A M` (M access, peer with GRO) keeps A and B
#       accelerated; a ping A <-> B is forwarded by XDP (fast-path counters grow) and M's far
#       end sees both directions untagged; the mirror's counters add up (mirrored = delivered
#       + dropped, dropped 0) and include the kernel's copies; a bridge-wide mirror
#       (`tap mirror all M`) does the same; after `clear tap mirror` M sees nothing and A, B
#       stay accelerated; the transmit counter (tracepoint) is attached only while a mirror
#       is in XDP (briskd's fdinfo);
#     - M goes down under a mirrored ping: A is held in userspace (`-`), the ping goes on,
#       and the copies the kernel skipped before briskd saw it count as dropped (the account
#       adds up); M up again: A back in XDP; M's MTU lowered under long pings: the copies
#       the kernel skipped count as dropped once the mirror is idle;
#     - a trunk destination T (VLAN 10 tagged, A -> B untagged): the tagging differs, so the
#       frames go through userspace (A's fast-path rx stays), and T sees both directions
#       tagged with VLAN 10; with VLAN 10 as T's native VLAN the tagging matches and the
#       kernel makes the copies (untagged);
#     - a destination that cannot take redirected frames (E) holds A in userspace (`-`);
#       E still gets every copy;
#     - M's device deleted under a mirrored ping: no ping lost, briskd removes the port and
#       the mirror (transmit counter detached), A <-> B stays in XDP;
#   With the fast path off (a second daemon): ping and iperf3 work, fast-path counters stay 0.
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping iperf3 tcpdump ethtool
need_netns
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import scapy.all' 2>/dev/null || skip "scapy under /usr/bin/python3 is missing"

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c" NS_D="${PFX}-d" NS_E="${PFX}-e"
IP_A=198.18.12.1 IP_B=198.18.12.2 IP_C=198.18.12.3 IP_E=198.18.12.5 IP_X=198.18.12.9
H_A="${PFX}a" H_B="${PFX}b" H_C="${PFX}c" H_D="${PFX}d" H_E="${PFX}e"

veth_to_ns "$NS_A" "$H_A" "$IP_A/24" gro
veth_to_ns "$NS_B" "$H_B" "$IP_B/24" gro
veth_to_ns "$NS_C" "$H_C" "$IP_C/24" gro
veth_to_ns "$NS_D" "$H_D" - gro
veth_to_ns "$NS_E" "$H_E" "$IP_E/24"
ip netns exec "$NS_E" ethtool -K eth0 gro off >/dev/null  # whatever the veth's default
NS_M="${PFX}-m" NS_T="${PFX}-t" H_M="${PFX}m" H_T="${PFX}t"
veth_to_ns "$NS_M" "$H_M" - gro
veth_to_ns "$NS_T" "$H_T" - gro

# stat_json <python expression over d = the `stats` JSON>
stat_json() { bk --json stats | $PY -c "import json,sys; d = json.load(sys.stdin); print($1)"; }
accel_col() { bk port | table_rows | awk -F'|' -v p="$1" '$1 == p { print $10 }'; }
accel_is() { [[ $(accel_col "$1") == "$2" ]]; }

attach_all() {
  bk port add "$H_A" vlan 10 driver afxdp >/dev/null || fail "port add $H_A"
  bk port add "$H_B" vlan 10 driver afxdp >/dev/null || fail "port add $H_B"
  bk port add "$H_C" vlan 20 driver afxdp >/dev/null || fail "port add $H_C"
  bk port add "$H_D" trunk 10,20 driver afxdp >/dev/null || fail "port add $H_D"
  bk port add "$H_E" vlan 10 driver afxdp >/dev/null || fail "port add $H_E"
}

iperf_ab() {  # iperf_ab <port>: TCP A -> B for 2 s with default offloads; prints Mbit/s
  ip netns exec "$NS_B" iperf3 -s -1 -B "$IP_B" -p "$1" >"$TMPD/iperf-s-$1" 2>&1 &
  track_pid $!
  sleep 0.5
  ip netns exec "$NS_A" iperf3 -c "$IP_B" -p "$1" -t 2 -J >"$TMPD/iperf-$1.json" ||
    fail "iperf3 $IP_A -> $IP_B failed: $(tail -5 "$TMPD/iperf-$1.json")"
  local bps
  bps=$($PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$TMPD/iperf-$1.json")
  ((bps > 0)) || fail "iperf3 moved no data"
  echo $((bps / 1000000))
}

# =========================================================== fast path on (the default)
# Native XDP on the veths (auto would attach generic there): the kernel's XDP redirects,
# devmap mirrors and the xdp-in rule are native mode's. Generic mode: xdp_big_frames.sh.
start_briskd --xdp-fastpath on --afxdp-xdp native
attach_all
bk port

check "accelerated ports are marked in \`port\`"
for p in "$H_A" "$H_B" "$H_C" "$H_D"; do
  [[ $(port_json "$p" xdp_fastpath) == true ]] || fail "$p not accelerated: $(bk port)"
  [[ $(accel_col "$p") == xdp ]] || fail "$p: fastpath column '$(accel_col "$p")', want xdp"
done
[[ $(accel_col "$H_E") == xdp-in ]] || fail "$H_E (peer without GRO): column '$(accel_col "$H_E")', want xdp-in"
[[ $(accel_col "$BR") == - ]] || fail "the bridge's own tap marked accelerated"
pass "AF_XDP ports accelerated; E is ingress-only; the internal port is not"

check "ping A <-> B takes the fast path"
ip netns exec "$NS_A" ping -c 20 -i 0.05 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
ip netns exec "$NS_B" ping -c 5 -i 0.05 -W 2 "$IP_A" >/dev/null || fail "ping $IP_B -> $IP_A failed"
a_rx=$(port_json "$H_A" fastpath_rx_frames) b_rx=$(port_json "$H_B" fastpath_rx_frames)
say "fast-path frames: $H_A rx $a_rx, $H_B rx $b_rx"
((a_rx >= 15 && b_rx >= 15)) || fail "fast-path counters did not grow (A rx $a_rx, B rx $b_rx)"
a_tot=$(stat_of "$H_A" rx_frames)
((a_tot >= a_rx)) || fail "stats rx_frames of $H_A ($a_tot) do not include the fast path ($a_rx)"
pass "pings forwarded in XDP, counted in port and stats"

check "VLAN isolation: A (VLAN 10) cannot reach C (VLAN 20)"
if ip netns exec "$NS_A" ping -c 2 -W 1 "$IP_C" >/dev/null 2>&1; then fail "VLAN 10 reached VLAN 20"; fi
[[ $(port_json "$H_C" fastpath_rx_frames) == 0 && $(port_json "$H_C" fastpath_tx_frames) == 0 ]] ||
  fail "fast path touched $H_C"
pass "VLAN 20 isolated"

check "iperf3 TCP A -> B with default offloads, fast path on"
say "iperf3: $(iperf_ab 5311) Mbit/s"
pass "TCP works"

check "E without GRO on its peer: no XDP redirects toward it, the tc half reaches it"
e_tx0=$(port_json "$H_E" fastpath_tx_frames)
ip netns exec "$NS_A" ping -c 5 -i 0.05 -W 2 "$IP_E" >/dev/null || fail "ping $IP_A -> $IP_E failed"
e_tx=$(($(port_json "$H_E" fastpath_tx_frames) - e_tx0))
[[ $(port_json "$H_E" tc_fastpath) == true ]] || fail "$H_E has no tc fast path: $(bk --json port)"
((e_tx >= 4)) || fail "toward $H_E (xdp-in) the fast path sent $e_tx frames, want the pings (tc half)"
pass "A -> E in the kernel by the tc half ($e_tx frames)"

check "trunk D: tag popped toward A, pushed toward D, in XDP"
MAC_A=$(mac_of "$NS_A" eth0) MAC_X=02:00:5e:12:00:09
ip -n "$NS_A" neigh replace "$IP_X" lladdr "$MAC_X" dev eth0 nud permanent
ip netns exec "$NS_D" tcpdump -i eth0 -e -nn -c 5 -w "$TMPD/d.pcap" icmp >/dev/null 2>&1 &
track_pid $!
ip netns exec "$NS_A" tcpdump -i eth0 -e -nn -w "$TMPD/a.pcap" ether src "$MAC_X" >/dev/null 2>&1 &
track_pid $!
sleep 1
d_rx0=$(port_json "$H_D" fastpath_rx_frames)
# X (on D, VLAN 10 tagged) sends 20 frames to A: the first is learned by userspace, the rest
# may take the fast path; A must receive all of them untagged.
ip netns exec "$NS_D" /usr/bin/python3 - "$MAC_X" "$MAC_A" "$IP_X" "$IP_A" <<'EOF'
import sys, time
from scapy.all import Ether, Dot1Q, IP, UDP, Raw, sendp
x, a, ipx, ipa = sys.argv[1:5]
for i in range(20):
    sendp(Ether(src=x, dst=a) / Dot1Q(vlan=10) / IP(src=ipx, dst=ipa) / UDP(sport=4000, dport=4001) / Raw(b"brisk%02d" % i), iface="eth0", verbose=False)
    time.sleep(0.05)
EOF
ip netns exec "$NS_A" ping -c 5 -i 0.1 -W 1 "$IP_X" >/dev/null 2>&1 || true  # X never answers
sleep 1
d_rx=$(( $(port_json "$H_D" fastpath_rx_frames) - d_rx0 ))
d_tx=$(port_json "$H_D" fastpath_tx_frames)
kill "${EXTRA_PIDS[@]: -2}" 2>/dev/null || true
sleep 0.5
got_a=$(tcpdump -r "$TMPD/a.pcap" -e -nn 2>/dev/null | grep -c "brisk\|UDP\|4001" || true)
tagged_a=$(tcpdump -r "$TMPD/a.pcap" -e -nn 2>/dev/null | grep -c "802.1Q" || true)
tagged_d=$(tcpdump -r "$TMPD/d.pcap" -e -nn 2>/dev/null | grep -c "vlan 10" || true)
say "A received $got_a of 20 ($tagged_a tagged); D fast-path rx $d_rx tx $d_tx; D saw $tagged_d tagged pings"
((got_a == 20)) || fail "A received $got_a of the 20 tagged frames from X"
((tagged_a == 0)) || fail "A received tagged frames"
((d_rx >= 15)) || fail "tagged frames from D did not take the fast path (rx $d_rx)"
((tagged_d >= 4 && d_tx >= 4)) || fail "pings to X did not leave D tagged through the fast path"
pass "802.1Q pop and push in XDP"

check "ageing 3 s: fast-path traffic keeps its sources alive"
bk bridge ageing "$BR" 3 >/dev/null
# A steady ping (10 s) that only the fast path forwards. Idle entries of other ports age out
# in the first seconds; from then on, an expiring A or B would be re-learned by userspace
# (about twice per 3 s), which learn_applied would show.
ip netns exec "$NS_A" ping -c 50 -i 0.2 -W 1 "$IP_B" >"$TMPD/ping-age" 2>&1 &
ping_pid=$!
track_pid $ping_pid
sleep 4
learned0=$(stat_json 'd["learn_applied"]')
sleep 5
learned1=$(stat_json 'd["learn_applied"]')
[[ -n $(fdb_port 10 "$MAC_A") ]] || fail "A's entry aged out while the fast path forwarded for it"
wait "$ping_pid" || fail "ping during ageing lost frames: $(tail -2 "$TMPD/ping-age")"
say "learn requests applied during 5 s of fast-path-only ping: $((learned1 - learned0))"
((learned1 - learned0 <= 1)) || fail "entries expired and were re-learned ($((learned1 - learned0)) times)"
bk bridge ageing "$BR" 300 >/dev/null
pass "fast-path hits refresh ageing"

check "MAC move: E takes A's MAC and address"
MAC_E=$(mac_of "$NS_E" eth0)
ip -n "$NS_A" link set eth0 down
ip -n "$NS_E" link set eth0 down
ip -n "$NS_E" link set eth0 address "$MAC_A"
ip -n "$NS_E" addr add "$IP_A/24" dev eth0
ip -n "$NS_E" link set eth0 up
wait_until 5 ip netns exec "$NS_E" ping -c 1 -W 1 "$IP_B" >/dev/null || fail "ping from E as A's MAC failed"
ip netns exec "$NS_E" ping -c 10 -i 0.05 -W 1 -I "$IP_A" "$IP_B" >/dev/null || fail "ping after the move lost frames"
[[ $(fdb_port 10 "$MAC_A") == "$H_E" ]] || fail "FDB did not follow the move: $(fdb_port 10 "$MAC_A")"
pass "the move is followed"
ip -n "$NS_E" addr del "$IP_A/24" dev eth0
ip -n "$NS_E" link set eth0 address "$MAC_E"
ip -n "$NS_A" link set eth0 up

check "port delete removes the port's fast-path entries"
ip netns exec "$NS_A" ping -c 3 -i 0.1 -W 1 "$IP_B" >/dev/null || fail "ping A -> B"
n_b=$(bk --json stats "$H_B" | $PY -c 'import json,sys; print(json.load(sys.stdin)["ports"][0]["fastpath"]["fdb_entries"])')
total0=$(stat_json 'd["fastpath_fdb_entries"]')
((n_b >= 1)) || fail "$H_B has no fast-path entries"
bk port delete "$H_B"
total1=$(stat_json 'd["fastpath_fdb_entries"]')
say "fast-path FDB entries: $total0 before, $total1 after deleting $H_B ($n_b of them)"
((total1 == total0 - n_b)) || fail "entries of $H_B left in the fast path's map"
bk port add "$H_B" vlan 10 driver afxdp >/dev/null || fail "re-add $H_B"
[[ $(port_json "$H_B" fastpath_rx_frames) == 0 ]] || fail "a re-added port inherited fast-path counters"
ip netns exec "$NS_A" ping -c 3 -i 0.1 -W 2 "$IP_B" >/dev/null || fail "ping after re-adding $H_B"
pass "entries removed with the port; the re-added port works"

# ---------------------------------------------------------------- mirrors in the kernel
bk port add "$H_M" vlan 30 driver afxdp >/dev/null || fail "port add $H_M"
bk port add "$H_T" trunk 10,20 driver afxdp >/dev/null || fail "port add $H_T"
# mirror_json <dst> <field>: a field of the mirror to <dst> in `tap mirror` (JSON).
mirror_json() {
  bk --json tap mirror | $PY -c 'import json,sys
for m in json.load(sys.stdin):
    if m["destination"] == sys.argv[1]: print(m[sys.argv[2]])' "$1" "$2"
}
# mon_start <ns> <file>: tcpdump on the namespace's eth0; mon_stop: stop it.
mon_start() {
  ip netns exec "$1" tcpdump --immediate-mode -U -e -nn -i eth0 -w "$2" icmp >"$2.log" 2>&1 &
  MON_PID=$!
  track_pid "$MON_PID"
  wait_until 10 contains "listening on" "$2.log" || fail "tcpdump did not start: $(cat "$2.log")"
}
mon_stop() {
  sleep 0.5
  kill -INT "$MON_PID"
  wait "$MON_PID" 2>/dev/null || true
}
icmp_count() {  # icmp_count <pcap> <request|reply> [extra grep]: matching frames
  tcpdump -r "$1" -e -nn 2>/dev/null | grep "echo $2" | grep -c -- "${3:-.}" || true
}
# mirror_ping <dst ns> <tag>: ping A -> B 20 times with tcpdump at the destination's far end;
# sets REQ REP (frames seen), TAGGED (of them, with 802.1Q), A_FP B_FP (fast-path rx growth).
mirror_ping() {
  mon_start "$1" "$TMPD/mon.pcap"
  local a0 b0
  a0=$(port_json "$H_A" fastpath_rx_frames) b0=$(port_json "$H_B" fastpath_rx_frames)
  ip netns exec "$NS_A" ping -c 20 -i 0.05 -W 2 "$IP_B" >/dev/null || fail "ping A -> B with a mirror"
  mon_stop
  A_FP=$(( $(port_json "$H_A" fastpath_rx_frames) - a0 )) B_FP=$(( $(port_json "$H_B" fastpath_rx_frames) - b0 ))
  REQ=$(icmp_count "$TMPD/mon.pcap" request) REP=$(icmp_count "$TMPD/mon.pcap" reply)
  TAGGED=$(tcpdump -r "$TMPD/mon.pcap" -e -nn 2>/dev/null | grep -c "802.1Q" || true)
  if ((REQ != 20 || REP != 20)); then
    say "seen at the destination: $(tcpdump -r "$TMPD/mon.pcap" -nn 2>/dev/null | sed -n 's/.*\(echo [a-z]*\).*seq \([0-9]*\).*/\1 \2/p' | tr '\n' ' ')"
    say "mirrors: $(bk tap mirror | table_rows | tr '\n' ';')"
  fi
}
# mirror_adds_up <dst> [lossy]: mirrored = delivered + dropped (after the copies settle), and
# dropped 0 unless "lossy" (then DROPPED = dropped).
mirror_adds_up() {
  local m d x k
  for _ in $(seq 20); do
    [[ $(mirror_json "$1" in_flight) == 0 ]] && break
    sleep 0.25
  done
  # One reading: mirrored, delivered and dropped of the same moment, and the kernel's share.
  read -r m d x k < <(bk --json tap mirror | $PY -c 'import json,sys
for m in json.load(sys.stdin):
    if m["destination"] == sys.argv[1]:
        k = m["kernel"]
        print(m["mirrored"], m["delivered"], m["dropped"], "%d/%d/%d" % (k["mirrored"], k["delivered"], k["dropped"]))' "$1")
  say "mirror to $1: mirrored $m delivered $d dropped $x (made by XDP: mirrored/delivered/dropped $k)"
  if ((m != d + x)) || [[ $x != 0 && ${2:-} != lossy ]]; then
    # The kernel's own view: what the destination veth took by redirect (since it was made),
    # and whether the transmit counter missed events (recursion_misses of tracing programs).
    say "$1: $(ethtool -S "$1" | grep -E 'xdp_xmit' | tr -s ' \n' ' ')"
    say "briskd's tracing programs: $(grep -h -A12 '^prog_type:[[:space:]]*26$' /proc/"$BRISKD_PID"/fdinfo/* 2>/dev/null | grep -E 'prog_id|recursion_misses' | tr -s '\t\n' ' ')"
    ((m == d + x)) || fail "mirror to $1: mirrored $m != delivered $d + dropped $x"
  fi
  if [[ ${2:-} == lossy ]]; then
    DROPPED=$x
  else
    ((x == 0)) || fail "mirror to $1 dropped $x copies"
  fi
  MIRRORED=$m
}

# devmap_counter_links: briskd's links of its transmit counter (brisk_devmap_xmit on the
# xdp:xdp_devmap_xmit tracepoint, a perf link in its fdinfo), attached only while a mirror's
# copies are made in XDP.
devmap_counter_links() {
  grep -l "^tp_name:[[:space:]]*xdp_devmap_xmit$" /proc/"$BRISKD_PID"/fdinfo/* 2>/dev/null | wc -l
}

check "tap mirror A -> M: A and B stay accelerated, the kernel makes the copies"
[[ $(devmap_counter_links) == 0 ]] || fail "transmit counter attached without mirrors"
ip netns exec "$NS_A" ping -c 3 -i 0.1 -W 2 "$IP_B" >/dev/null || fail "ping A -> B before the mirror"
bk tap mirror "$H_A" "$H_M" "$BR" >/dev/null || fail "tap mirror $H_A $H_M"
for p in "$H_A" "$H_B"; do
  [[ $(port_json "$p" xdp_fastpath) == true ]] || fail "$p left the fast path with a mirror: $(bk port)"
done
[[ $(port_json "$H_M" xdp_fastpath) == false ]] || fail "mirror destination $H_M accelerated"
m_tx0=$(port_json "$H_M" fastpath_tx_frames)
mirror_ping "$NS_M"
m_tx=$(( $(port_json "$H_M" fastpath_tx_frames) - m_tx0 ))
say "M saw $REQ requests, $REP replies ($TAGGED tagged); fast path: A rx +$A_FP, B rx +$B_FP, M tx +$m_tx"
((REQ == 20 && REP == 20)) || fail "M saw $REQ requests and $REP replies of 20"
((TAGGED == 0)) || fail "copies to the access port M were tagged"
((A_FP >= 15 && B_FP >= 15)) || fail "mirrored ping not forwarded by XDP (A +$A_FP, B +$B_FP)"
((m_tx >= 30)) || fail "fast-path copies not counted on $H_M (tx +$m_tx)"
mirror_adds_up "$H_M"
((MIRRORED >= 40)) || fail "mirror counted $MIRRORED copies, want >= 40"
stat_json 'd["mirrors"]' | grep -q "$H_M" || fail "stats lacks the mirror"
[[ $(devmap_counter_links) == 1 ]] || fail "transmit counter not attached (1 link) with a mirror in XDP"
pass "mirrored ping forwarded in XDP with copies; counters add up"

check "a mirror destination that goes down: forwarding goes on, every copy is counted"
# The kernel skips a device that is down without a trace (xdp_ok_fwd_dev) until briskd sees
# it (about a second) and sends A's frames through userspace; what it skipped meanwhile is
# counted as dropped once the kernel's copies for the mirror have stopped.
ip link set "$H_M" down
ip netns exec "$NS_A" ping -c 30 -i 0.05 -W 2 "$IP_B" >/dev/null || fail "ping A -> B with the destination down"
wait_until 5 accel_is "$H_A" - || fail "A not held in userspace with its destination down: $(bk port)"
mirror_adds_up "$H_M" lossy
ip link set "$H_M" up
wait_until 5 accel_is "$H_A" xdp || fail "A not back in the fast path: $(bk port)"
pass "$DROPPED copies dropped while the destination was down, all counted"

check "copies the kernel cannot send (M's MTU lowered under traffic) count as dropped"
# Until briskd reads the new MTU (about a second), the broadcast skips M for the long frames
# without a trace; then they go through userspace while short ones keep the kernel's copies,
# so the mirror stays in XDP and its lost copies are counted once it has been idle.
dropped0=$(mirror_json "$H_M" dropped)
ip link set "$H_M" mtu 500
ip netns exec "$NS_A" ping -c 30 -i 0.05 -s 1000 -W 2 "$IP_B" >/dev/null || fail "long pings A -> B with M's MTU at 500"
mirror_adds_up "$H_M" lossy
ip link set "$H_M" mtu 1500
pass "$((DROPPED - dropped0)) long copies skipped by the kernel, all counted"

check "bridge-wide mirror (tap mirror all M)"
bk clear tap mirror >/dev/null || fail "clear tap mirror"
bk tap mirror all "$H_M" "$BR" >/dev/null || fail "tap mirror all $H_M"
mirror_ping "$NS_M"
say "M saw $REQ requests, $REP replies; fast path: A rx +$A_FP, B rx +$B_FP"
((REQ == 20 && REP == 20)) || fail "M saw $REQ requests and $REP replies of 20"
((A_FP >= 15 && B_FP >= 15)) || fail "bridge-wide mirrored ping not forwarded by XDP"
mirror_adds_up "$H_M"
pass "bridge-wide mirror in XDP"

check "clear tap mirror: M sees nothing, A and B stay accelerated"
bk clear tap mirror >/dev/null || fail "clear tap mirror"
mirror_ping "$NS_M"
say "M saw $REQ requests, $REP replies; fast path: A rx +$A_FP, B rx +$B_FP"
((REQ == 0 && REP == 0)) || fail "M still receives copies after clear tap mirror"
((A_FP >= 15 && B_FP >= 15)) || fail "A <-> B left the fast path after the mirror was cleared"
[[ $(port_json "$H_M" xdp_fastpath) == true ]] || fail "$H_M not accelerated again"
[[ $(devmap_counter_links) == 0 ]] || fail "transmit counter still attached without mirrors"
pass "no copies after clear; the fast path continues"

check "trunk destination T: tagging differs from B's, so userspace forwards and mirrors"
bk tap mirror "$H_A" "$H_T" "$BR" >/dev/null || fail "tap mirror $H_A $H_T"
mirror_ping "$NS_T"
say "T saw $REQ requests, $REP replies ($TAGGED tagged); fast path: A rx +$A_FP, B rx +$B_FP"
mirror_adds_up "$H_T"
((REQ == 20 && REP == 20)) || fail "T saw $REQ requests and $REP replies of 20: $(tcpdump -r "$TMPD/mon.pcap" -e -nn 2>/dev/null | tail -30)"
((TAGGED == 40)) || fail "T's copies not all tagged ($TAGGED of 40)"
v10=$(tcpdump -r "$TMPD/mon.pcap" -e -nn 2>/dev/null | grep -c "vlan 10" || true)
((v10 == 40)) || fail "T's copies not all in VLAN 10 ($v10 of 40)"
((A_FP == 0 && B_FP == 0)) || fail "tag mismatch took the fast path (A +$A_FP, B +$B_FP)"
bk clear tap mirror >/dev/null
pass "tag mismatch goes through userspace and mirrors correctly"

check "trunk destination T with native VLAN 10: untagged like B's output, so the kernel copies"
bk port vlan "$H_T" trunk 10,20 native 10 >/dev/null || fail "port vlan $H_T trunk 10,20 native 10"
bk tap mirror "$H_A" "$H_T" "$BR" >/dev/null || fail "tap mirror $H_A $H_T"
mirror_ping "$NS_T"
say "T saw $REQ requests, $REP replies ($TAGGED tagged); fast path: A rx +$A_FP, B rx +$B_FP"
mirror_adds_up "$H_T"
((REQ == 20 && REP == 20)) || fail "T saw $REQ requests and $REP replies of 20"
((TAGGED == 0)) || fail "T's copies tagged ($TAGGED of 40) although VLAN 10 is its native VLAN"
((A_FP >= 15 && B_FP >= 15)) || fail "matching trunk destination not served in XDP (A +$A_FP, B +$B_FP)"
bk clear tap mirror >/dev/null
bk port vlan "$H_T" trunk 10,20 >/dev/null || fail "port vlan $H_T trunk 10,20"
pass "a trunk destination that tags as the output port does keeps the mirror in XDP"

check "a destination that cannot take redirected frames (E, peer without GRO) holds A in userspace"
bk tap mirror "$H_A" "$H_E" "$BR" >/dev/null || fail "tap mirror $H_A $H_E"
[[ $(accel_col "$H_A") == - ]] || fail "$H_A: column '$(accel_col "$H_A")' with a mirror the kernel cannot serve, want -"
mirror_ping "$NS_E"
say "E saw $REQ requests, $REP replies; fast path: A rx +$A_FP, B rx +$B_FP"
((REQ == 20 && REP == 20)) || fail "E saw $REQ requests and $REP replies of 20"
((A_FP == 0)) || fail "A's frames took the fast path without the copy to E (+$A_FP)"
mirror_adds_up "$H_E"
bk clear tap mirror >/dev/null
[[ $(accel_col "$H_A") == xdp ]] || fail "$H_A not accelerated again after clear: '$(accel_col "$H_A")'"
pass "A held in userspace while its mirror's destination cannot take redirects; copies complete"

check "a mirror destination that vanishes under a mirrored ping: its port and mirror go, A <-> B stays in XDP"
# The kernel drops a devmap entry whose device unregisters; briskd notices the device is gone,
# removes the port and with it the mirror (its pairs, groups and transmit counter).
bk tap mirror "$H_A" "$H_M" "$BR" >/dev/null || fail "tap mirror $H_A $H_M"
wait_until 5 accel_is "$H_A" xdp || fail "A not in XDP with its mirror to M: $(bk port)"
ip netns exec "$NS_A" ping -c 60 -i 0.05 -W 2 "$IP_B" >"$TMPD/ping-vanish" 2>&1 &
ping_pid=$!
track_pid "$ping_pid"
sleep 1
ip link del "$H_M"
wait "$ping_pid" || fail "ping A -> B lost frames when the mirror destination vanished: $(tail -2 "$TMPD/ping-vanish")"
daemon_alive || fail "briskd died when the mirror destination vanished"
wait_until 5 bash -c "! '$BRISK_BIN' --socket '$SOCK' port | grep -q '^ *${H_M} '" ||
  fail "$H_M still listed 5 s after its device was deleted"
[[ $(bk --json tap mirror | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))') == 0 ]] ||
  fail "the mirror to the vanished $H_M is still listed: $(bk tap mirror)"
[[ $(devmap_counter_links) == 0 ]] || fail "transmit counter still attached without mirrors"
wait_until 5 accel_is "$H_A" xdp || fail "A not accelerated after its mirror went: $(bk port)"
a0=$(port_json "$H_A" fastpath_rx_frames)
ip netns exec "$NS_A" ping -c 20 -i 0.05 -W 2 "$IP_B" >/dev/null || fail "ping A -> B after the destination vanished"
a_fp=$(( $(port_json "$H_A" fastpath_rx_frames) - a0 ))
say "60 pings without loss across the deletion; then A rx +$a_fp in XDP"
((a_fp >= 15)) || fail "A <-> B not forwarded in XDP after the destination vanished (+$a_fp)"
pass "vanished destination: port and mirror removed, forwarding unharmed"

# =========================================================== fast path off
check "fast path off: everything through userspace"
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
wait_until 5 bash -c "! ip -d link show dev '$H_A' | grep -q xdp" || fail "XDP still attached after stop"
rm -f "$TMPD/state.json"  # a fresh daemon: the ports are attached again below
start_briskd --xdp-fastpath off --afxdp-xdp native
attach_all
ip netns exec "$NS_A" ping -c 10 -i 0.05 -W 2 "$IP_B" >/dev/null || fail "ping A -> B (fast path off)"
if ip netns exec "$NS_A" ping -c 2 -W 1 "$IP_C" >/dev/null 2>&1; then fail "VLAN 10 reached VLAN 20 (off)"; fi
say "iperf3 (fast path off): $(iperf_ab 5312) Mbit/s"
for p in "$H_A" "$H_B"; do
  [[ $(port_json "$p" xdp_fastpath) == false ]] || fail "$p accelerated with --xdp-fastpath off"
  [[ $(port_json "$p" fastpath_rx_frames) == 0 && $(port_json "$p" fastpath_tx_frames) == 0 ]] || fail "$p fast-path counters nonzero"
  [[ $(accel_col "$p") == - ]] || fail "$p column '$(accel_col "$p")', want -"
done
[[ $(stat_json 'd["xdp_fastpath"]') == False ]] || fail "stats says the fast path is on"
pass "fast path off: ping, isolation, TCP work; counters 0"

#!/usr/bin/env bash
# The fast path on AF_PACKET system ports (datapath/afpacket_port.hpp, "Fast path"): brisk's tc
# program at each device's clsact ingress forwards learned unicast in the kernel, and the
# receive socket's filter (BRISK_SOCK_PROG) keeps those frames from brisk's socket, which sees
# every frame before tc does.
#   Topology: veth ends ${PFX}a, ${PFX}b (access VLAN 10), ${PFX}c (access VLAN 20) attached
#   with `port add ... driver afpacket`; the other ends ("eth0") in namespaces with default
#   offloads and GRO off, as a container's veth (no XDP program anywhere, none needed there).
#   Checks:
#     - `port` marks A, B, C accelerated (xdp-in: nothing redirects XDP frames toward a veth
#       whose peer has no NAPI; the tc program needs nothing from the peer); brisk's tc
#       program is on each device at its handle (0xb15c);
#     - ping A <-> B: every reply, no duplicate (a missing socket filter would deliver each
#       echo twice: once by tc, once by brisk in userspace); the fast path counts the echoes;
#       brisk's userspace saw at most the few frames before both MACs were learned;
#     - A -> C (VLAN 20) fails, C's fast-path counters stay 0;
#     - iperf3 TCP A -> B with default offloads (TSO, partial checksums: the skbs go whole):
#       at least 95% of A's received frames through the fast path, TCP carried data;
#     - a port mirror on A (M: an AF_PACKET veth; tcpdump at M's far end): A stays accelerated
#       but its pairs go to userspace (BRISK_FP_MIRROR), the socket filter lets them through,
#       M sees all 20 requests and 20 replies, the ping has no duplicate;
#     - port delete A: brisk's tc filter is gone from A's device.
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping iperf3 tcpdump tc
need_netns
[[ -n $PY ]] || skip "python3 is not installed (JSON parsing)"

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c" NS_M="${PFX}-m"
H_A="${PFX}a" H_B="${PFX}b" H_C="${PFX}c" H_M="${PFX}m"
IP_A=198.18.31.1 IP_B=198.18.31.2 IP_C=198.18.31.3
veth_to_ns "$NS_A" "$H_A" "$IP_A/24"
veth_to_ns "$NS_B" "$H_B" "$IP_B/24"
veth_to_ns "$NS_C" "$H_C" "$IP_C/24"
veth_to_ns "$NS_M" "$H_M" -

accel_col() { bk port | table_rows | awk -F'|' -v p="$1" '$1 == p { print $10 }'; }
brisk_filter() { tc filter show dev "$1" ingress 2>/dev/null | contains "handle 0xb15c brisk_tc_rx"; }
userspace_rx() { echo $(($(port_json "$1" rx_frames) - $(port_json "$1" fastpath_rx_frames))); }

start_briskd
bk port add "$H_A" vlan 10 driver afpacket >/dev/null || fail "port add $H_A"
bk port add "$H_B" vlan 10 driver afpacket >/dev/null || fail "port add $H_B"
bk port add "$H_C" vlan 20 driver afpacket >/dev/null || fail "port add $H_C"
bk port add "$H_M" vlan 30 driver afpacket >/dev/null || fail "port add $H_M"
bk port

check "AF_PACKET ports accelerated, brisk's tc program on each device"
for p in "$H_A" "$H_B" "$H_C"; do
  [[ $(port_json "$p" xdp_fastpath) == true ]] || fail "$p not accelerated: $(bk port)"
  [[ $(accel_col "$p") == xdp-in ]] || fail "$p: fastpath column '$(accel_col "$p")', want xdp-in"
  brisk_filter "$p" || fail "no brisk tc filter on $p: $(tc filter show dev "$p" ingress)"
done
pass "A, B, C accelerated (xdp-in), tc program attached"

check "ping A <-> B: in the kernel, every reply once"
ip netns exec "$NS_A" ping -c 3 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
a_fp=$(port_json "$H_A" fastpath_rx_frames) b_fp=$(port_json "$H_B" fastpath_rx_frames)
a_us=$(userspace_rx "$H_A")
ip netns exec "$NS_A" ping -c 20 -i 0.05 -W 2 "$IP_B" >"$TMPD/ping" 2>&1 || fail "ping: $(tail -3 "$TMPD/ping")"
grep -q "DUP" "$TMPD/ping" && fail "duplicate replies: $(grep -c DUP "$TMPD/ping") (the socket filter let fast-path frames through)"
grep -q " 20 received" "$TMPD/ping" || fail "ping: $(tail -3 "$TMPD/ping")"
a_fp=$(($(port_json "$H_A" fastpath_rx_frames) - a_fp)) b_fp=$(($(port_json "$H_B" fastpath_rx_frames) - b_fp))
a_us=$(($(userspace_rx "$H_A") - a_us))
say "A: $a_fp frames through the fast path, $a_us in userspace; B: $b_fp through the fast path"
((a_fp >= 20 && b_fp >= 20)) || fail "the fast path did not carry the echoes (A $a_fp, B $b_fp)"
((a_us <= 2)) || fail "brisk's userspace received $a_us of A's frames (the socket filter passed them)"
pass "20 replies, none duplicated; the echoes crossed in the kernel"

check "VLAN isolation: A -> C fails, C's fast-path counters stay 0"
ip netns exec "$NS_A" ping -c 2 -W 1 "$IP_C" >/dev/null 2>&1 && fail "A reached C across VLANs"
[[ $(port_json "$H_C" fastpath_rx_frames) == 0 && $(port_json "$H_C" fastpath_tx_frames) == 0 ]] ||
  fail "C's fast-path counters moved"
pass "isolated"

check "TCP A -> B with default offloads through the fast path"
a_rx=$(port_json "$H_A" rx_frames) a_fp=$(port_json "$H_A" fastpath_rx_frames)
ip netns exec "$NS_B" iperf3 -s -1 -B "$IP_B" -p 5301 >"$TMPD/iperf-s" 2>&1 &
track_pid $!
wait_until 5 bash -c "ip netns exec $NS_B ss -ltn 'sport = :5301' | grep -q LISTEN" || true
ip netns exec "$NS_A" iperf3 -c "$IP_B" -p 5301 -t 2 -J >"$TMPD/iperf.json" ||
  fail "iperf3 failed: $(tail -5 "$TMPD/iperf.json")"
bps=$($PY -c 'import json,sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$TMPD/iperf.json")
a_rx=$(($(port_json "$H_A" rx_frames) - a_rx)) a_fp=$(($(port_json "$H_A" fastpath_rx_frames) - a_fp))
say "TCP $((bps / 1000000)) Mbit/s; A received $a_rx frames, $a_fp through the fast path"
((bps > 0)) || fail "TCP carried nothing"
((a_fp * 100 >= a_rx * 95)) || fail "only $a_fp of $a_rx frames through the fast path"
pass "TCP in the kernel"

check "a port mirror on A: its frames through userspace, the mirror gets each once"
bk tap mirror "$H_A" "$H_M" >/dev/null || fail "tap mirror $H_A $H_M"
ip netns exec "$NS_M" tcpdump --immediate-mode -U -nn -i eth0 -w "$TMPD/mon.pcap" icmp >"$TMPD/mon.log" 2>&1 &
MON=$!
track_pid "$MON"
wait_until 10 contains "listening on" "$TMPD/mon.log" || fail "tcpdump did not start: $(cat "$TMPD/mon.log")"
a_us=$(userspace_rx "$H_A")
ip netns exec "$NS_A" ping -c 20 -i 0.05 -W 2 "$IP_B" >"$TMPD/ping" 2>&1 || fail "ping with a mirror: $(tail -3 "$TMPD/ping")"
sleep 0.5
kill -INT "$MON"
wait "$MON" 2>/dev/null || true
grep -q "DUP" "$TMPD/ping" && fail "duplicate replies with a mirror"
req=$(tcpdump -r "$TMPD/mon.pcap" -nn 2>/dev/null | grep -c "echo request" || true)
rep=$(tcpdump -r "$TMPD/mon.pcap" -nn 2>/dev/null | grep -c "echo reply" || true)
a_us=$(($(userspace_rx "$H_A") - a_us))
say "mirror saw $req requests, $rep replies; A's frames in userspace: $a_us"
((req == 20 && rep == 20)) || fail "the mirror saw $req requests and $rep replies (want 20 each)"
((a_us >= 20)) || fail "A's frames did not go through userspace under the mirror ($a_us)"
bk clear tap mirror >/dev/null || fail "clear tap mirror"
pass "mirrored in userspace, nothing twice"

check "port delete removes the tc program from the device"
bk port delete "$H_A" >/dev/null || fail "port delete $H_A"
brisk_filter "$H_A" && fail "brisk's tc filter still on $H_A"
ip netns exec "$NS_B" ping -c 2 -W 1 "$IP_C" >/dev/null 2>&1 || true
daemon_alive || fail "briskd died"
pass "filter gone"

#!/usr/bin/env bash
# Big frames through AF_XDP veth ports (bpf/brisk_xdp.c: frags-aware XDP program and the fast
# path's tc half; docs/design.md "Big frames and the peers of brisk's ports").
#   Topology: veth ends ${PFX}a, ${PFX}b (access VLAN 10) attached with `port add`, the other
#   ends (eth0) in namespaces A and B with default offloads and GRO off, so neither takes XDP
#   redirects (`xdp-in`): everything the fast path sends goes through its tc half.
#   Native XDP (`--afxdp-xdp native`):
#     - the peers' MTU can be raised to 9000 under brisk's program (frags-aware; a program
#       without frags caps it at 3506), and the peer's TSO is off (the kernel's rule);
#     - ping -s 8972 -M do A <-> B works, in the kernel: B's fast-path tx counts the pings;
#       tcpdump in B sees the 9014-byte frames whole;
#     - brisk's device toward B back at MTU 1500: the 9014-byte pings are dropped and counted
#       as A's `oversize` (bpf_check_mtu in the tc half), none arrives cut;
#   The default, `--afxdp-xdp auto` (a second daemon): generic XDP on veths:
#     - the peers keep TSO; iperf3 TCP A -> B with default offloads works, all of it through
#       the fast path (B's fast-path tx frames grow by at least what iperf3 moved in 1500-byte
#       frames), no drops;
#     - a host tap C (`tap create`, in a namespace): A's TCP super-frames toward it must reach
#       userspace; on a multi-buffer socket (XDP_USE_SG) they arrive in several chunks and are
#       gathered (rx_gathered grows) and TCP A -> C moves at least a tenth of A -> B's bytes;
#       without one (kernels before 6.6) they are counted oversize;
#     - `tap mirror A M` (M a third veth port): generic XDP has no per-copy transmit event, so
#       mirrored frames are copied in userspace: M's far end sees both directions of 10 pings,
#       the mirror's counters add up (mirrored = delivered, dropped 0, none made by XDP).
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping iperf3 tcpdump ethtool
need_netns

NS_A="${PFX}-a" NS_B="${PFX}-b" H_A="${PFX}a" H_B="${PFX}b"
IP_A=198.18.13.1 IP_B=198.18.13.2
for x in "$NS_A $H_A $IP_A" "$NS_B $H_B $IP_B"; do
  read -r ns host ip <<<"$x"
  ns_create "$ns"
  ip link add "$host" type veth peer name "${host}n"
  ip link set "${host}n" netns "$ns"
  ip -n "$ns" link set "${host}n" name eth0
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip netns exec "$ns" ethtool -K eth0 gro off >/dev/null
  ip -n "$ns" link set eth0 up
  ip link set "$host" up
done

tso() { ip netns exec "$1" ethtool -k eth0 | awk '/^tcp-segmentation-offload:/ { print $2 }'; }
fp_tx() { port_json "$1" fastpath_tx_frames; }
drop_of() {  # <port> <reason>
  bk --json stats | "$PY" -c '
import json, sys
for p in json.load(sys.stdin)["ports"]:
    if p["port"] == sys.argv[1]: print(p["drops"][sys.argv[2]])' "$1" "$2"
}
attach_ports() {
  for h in "$H_A" "$H_B"; do bk port add "$h" vlan 10 >/dev/null || fail "port add $h"; done
  for h in "$H_A" "$H_B"; do
    [[ $(port_json "$h" tc_fastpath) == true && $(port_json "$h" xdp_fastpath) == true ]] ||
      fail "$h: not accelerated with the tc half: $(bk --json port)"
  done
  ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B"
}

start_briskd --afxdp-xdp native
attach_ports
check "native XDP: MTU 9000 accepted under brisk's program, peer TSO off"
[[ $(port_json "$H_A" afxdp_mode) == native/* ]] || fail "$H_A not native: $(port_json "$H_A" afxdp_mode)"
for x in "$NS_A $H_A" "$NS_B $H_B"; do
  read -r ns host <<<"$x"
  ip link set "$host" mtu 9000
  ip -n "$ns" link set eth0 mtu 9000 || fail "MTU 9000 refused on $ns's eth0 under brisk's program"
done
[[ $(tso "$NS_A") == off ]] || fail "peer TSO '$(tso "$NS_A")' under a native program (expected off: veth_xdp_set)"
pass "MTU 9000 on both peers"

check "ping -s 8972 -M do A <-> B through the tc half, whole"
ip netns exec "$NS_B" tcpdump -i eth0 -nn -c 4 -w "$TMPD/b.pcap" "icmp and greater 9000" >/dev/null 2>&1 &
TD=$!
track_pid "$TD"
sleep 1
b_tx0=$(fp_tx "$H_B")
ip netns exec "$NS_A" ping -c 4 -i 0.2 -W 2 -s 8972 -M do "$IP_B" >/dev/null || fail "ping -s 8972 -M do failed"
b_tx=$(($(fp_tx "$H_B") - b_tx0))
((b_tx >= 4)) || fail "B's fast-path tx grew by $b_tx, want the 4 pings"
wait_until 3 bash -c "! kill -0 $TD 2>/dev/null" || fail "tcpdump in B did not see 4 frames over 9000 bytes"
lens=$(tcpdump -r "$TMPD/b.pcap" -nn -e 2>/dev/null | grep -o 'length 9014' | wc -l)
[[ $lens -eq 4 ]] || fail "B saw $lens frames of 9014 bytes: $(tcpdump -r "$TMPD/b.pcap" -nn -e 2>/dev/null)"
pass "4 pings of 9014-byte frames, forwarded in the kernel ($b_tx frames)"

check "toward a device with MTU 1500 the 9014-byte frames are oversize, never cut"
ip link set "$H_B" mtu 1500
ov0=$(drop_of "$H_A" oversize) rx_b0=$(rx_packets "$NS_B" eth0)
if ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 -s 8972 -M do "$IP_B" >/dev/null 2>&1; then
  fail "9014-byte pings crossed a 1500-byte device"
fi
ov=$(($(drop_of "$H_A" oversize) - ov0))
((ov >= 3)) || fail "A's oversize grew by $ov, want the 3 pings"
[[ $(rx_packets "$NS_B" eth0) -eq $rx_b0 ]] || fail "B received something of the long pings"
ip link set "$H_B" mtu 9000
ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 -s 8972 -M do "$IP_B" >/dev/null || fail "ping after MTU 9000 again"
pass "oversize $ov on A"

check "the default (--afxdp-xdp auto: generic on veths): peers keep TSO, TCP super-frames through the fast path"
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
rm -f "$TMPD/state.json"
for x in "$NS_A $H_A" "$NS_B $H_B"; do
  read -r ns host <<<"$x"
  ip -n "$ns" link set eth0 mtu 1500
  ip link set "$host" mtu 1500
done
start_briskd
attach_ports
[[ $(port_json "$H_A" afxdp_mode) == generic/* ]] || fail "$H_A not generic: $(port_json "$H_A" afxdp_mode)"
[[ $(tso "$NS_A") == on ]] || fail "peer TSO '$(tso "$NS_A")' with a generic program, want on"
b_tx0=$(fp_tx "$H_B")
ip netns exec "$NS_B" iperf3 -s -1 -B "$IP_B" -p 5321 >"$TMPD/iperf-s" 2>&1 &
track_pid $!
sleep 0.3
ip netns exec "$NS_A" iperf3 -c "$IP_B" -p 5321 -t 2 -J >"$TMPD/iperf.json" || fail "iperf3 failed: $(tail -5 "$TMPD/iperf.json")"
bytes=$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$TMPD/iperf.json")
b_tx=$(($(fp_tx "$H_B") - b_tx0))
say "iperf3 moved $bytes bytes; B's fast-path tx grew by $b_tx frames"
((bytes > 0 && b_tx >= bytes / 1500)) || fail "the fast path carried $b_tx frames for $bytes bytes"
[[ $(bk --json stats | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin)["drops"].values()))') -le 10 ]] ||
  fail "drops: $(bk stats)"
pass "TSO on, TCP through the tc half"

check "generic XDP: A's super-frames toward a host tap reach userspace whole (multi-buffer socket)"
NS_C="${PFX}-c" IP_C=198.18.13.3
ns_create "$NS_C"
T_C=$(bk tap create 10) || fail "tap create 10"
ip link set "$T_C" netns "$NS_C"
ip -n "$NS_C" addr add "$IP_C/24" dev "$T_C"
ip -n "$NS_C" link set "$T_C" up
ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 "$IP_C" >/dev/null || fail "ping A -> host tap C"
g0=$(port_json "$H_A" rx_gathered) ov0=$(drop_of "$H_A" oversize)
ip netns exec "$NS_C" iperf3 -s -1 -B "$IP_C" -p 5322 >"$TMPD/iperf-sc" 2>&1 &
track_pid $!
sleep 0.3
ip netns exec "$NS_A" timeout 30 iperf3 -c "$IP_C" -p 5322 -t 2 -J >"$TMPD/iperf-c.json" ||
  fail "iperf3 A -> C failed: $(tail -5 "$TMPD/iperf-c.json")"
bytes_c=$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$TMPD/iperf-c.json")
g=$(($(port_json "$H_A" rx_gathered) - g0)) ov=$(($(drop_of "$H_A" oversize) - ov0))
say "A -> host tap: $bytes_c bytes (A -> B: $bytes); A gathered $g multi-chunk frames, oversize +$ov"
if [[ $(port_json "$H_A" afxdp_multi_buffer) == true ]]; then
  # The known failure (every super-frame dropped as oversize, TCP on retransmissions) moves
  # about 0.01% of what the tc half does; a working path at least a tenth of it.
  ((g > 0)) || fail "no frame gathered from several chunks"
  ((bytes_c * 10 >= bytes)) || fail "TCP toward the tap crawls: $bytes_c bytes against $bytes through the tc half"
  pass "super-frames gathered ($g) and sent whole to the tap"
else
  # A kernel without multi-buffer AF_XDP (before 6.6): such frames are refused, and counted.
  ((ov > 0)) || fail "no multi-buffer socket, yet no super-frame counted oversize"
  pass "no multi-buffer sockets here: A's super-frames counted oversize ($ov)"
fi

check "generic XDP: a mirror of A gets every copy from userspace, counted"
NS_M="${PFX}-m" H_M="${PFX}m"
veth_to_ns "$NS_M" "$H_M" -
bk port add "$H_M" vlan 30 >/dev/null || fail "port add $H_M"
bk tap mirror "$H_A" "$H_M" >/dev/null || fail "tap mirror $H_A $H_M"
ip netns exec "$NS_M" tcpdump --immediate-mode -U -nn -i eth0 -w "$TMPD/m.pcap" icmp >"$TMPD/m.log" 2>&1 &
TD=$!
track_pid "$TD"
wait_until 10 contains "listening on" "$TMPD/m.log" || fail "tcpdump in M did not start"
ip netns exec "$NS_A" ping -c 10 -i 0.05 -W 2 "$IP_B" >/dev/null || fail "ping A -> B with a mirror"
sleep 0.5
kill -INT "$TD"
wait "$TD" 2>/dev/null || true
req=$(tcpdump -r "$TMPD/m.pcap" -nn 2>/dev/null | grep -c "echo request" || true)
rep=$(tcpdump -r "$TMPD/m.pcap" -nn 2>/dev/null | grep -c "echo reply" || true)
read -r m d x k < <(bk --json tap mirror | "$PY" -c 'import json,sys
for m in json.load(sys.stdin):
    if m["destination"] == sys.argv[1]:
        print(m["mirrored"], m["delivered"], m["dropped"], m["kernel"]["mirrored"])' "$H_M")
say "M saw $req requests, $rep replies; mirror: mirrored $m delivered $d dropped $x (by XDP $k)"
((req == 10 && rep == 10)) || fail "M saw $req requests and $rep replies of 10 pings"
((m >= 20 && m == d && x == 0 && k == 0)) || fail "mirror counters: $(bk tap mirror)"
pass "copies made in userspace, every one counted"

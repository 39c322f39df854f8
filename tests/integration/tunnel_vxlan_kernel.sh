#!/usr/bin/env bash
# VXLAN between brisk and the Linux kernel's own vxlan device.
#   namespace H: briskd; underlay veth 198.18.20.1/24 <-> namespace P: 198.18.20.2/24
#   P: kernel vxlan device (VNI 42, UDP 4789) with 198.18.21.2/24
#   brisk: `bridge tunnel vxlan <br> 198.18.20.2 42`, a host tap on VLAN 0 moved to namespace T
#          with 198.18.21.1/24 (VLAN 0: untagged in the tunnel; this kernel has no 802.1Q)
# Checks: the tunnel is listed; T and P ping each other through it; frames above the underlay
# MTU are fragmented and reassembled (1500-byte pings with DF both ways); a second tunnel to
# another VNI gets nothing of VNI 42; notunnel stops the traffic; no drops on the way.
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump
need_netns

NS_H="${PFX}-h" NS_P="${PFX}-p" NS_T="${PFX}-t"
ns_create "$NS_H"
ns_create "$NS_P"
veth_between "$NS_H" u0 198.18.20.1/24 "$NS_P" eth0 198.18.20.2/24
ip -n "$NS_P" link add vx0 type vxlan id 42 remote 198.18.20.1 local 198.18.20.2 dstport 4789
ip -n "$NS_P" addr add 198.18.21.2/24 dev vx0
ip -n "$NS_P" link set vx0 up
ip netns exec "$NS_P" sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1 || true

start_briskd_in "$NS_H" h

check "bridge tunnel vxlan creates a tunnel port named like a tap"
tun=$(bkn h bridge tunnel vxlan "$BR" 198.18.20.2 42) || fail "bridge tunnel vxlan refused"
[[ "$tun" == "${TP}"* ]] || fail "tunnel port '$tun' not named from the tap name generator"
bkn h bridge
bkn h bridge | table_rows | awk -F'|' -v b="$BR" '$1 == b { print $5 }' | contains -F "$tun" ||
  fail "tunnel $tun not in the tunnels column"
bkn h port | table_rows | contains "^${tun}|${BR}|tunnel/vxlan 198.18.20.2 key 42|trunk|" ||
  fail "tunnel $tun not listed by port: $(bkn h port)"
tap=$(bkn h tap create 0) || fail "tap create 0"
move_tap "$NS_H" "$tap" "$NS_T" 198.18.21.1/24
pass "tunnel $tun listed; host tap $tap on VLAN 0"

check "the kernel vxlan device and the brisk tap ping each other"
ip netns exec "$NS_T" ping -c 3 -i 0.2 -W 2 198.18.21.2 >/dev/null || fail "ping T -> P over VXLAN failed"
ip netns exec "$NS_P" ping -c 3 -i 0.2 -W 2 198.18.21.1 >/dev/null || fail "ping P -> T over VXLAN failed"
pass "ping both ways through brisk's VXLAN and the kernel's"

check "frames larger than the underlay MTU are fragmented and reassembled"
# Inner 1514-byte frames + 36 bytes of VXLAN/UDP/IPv4 exceed the veth's 1500: the sending
# kernel fragments (DF clear on the outer packet), the receiving kernel reassembles.
ip -n "$NS_P" link set vx0 mtu 1500
ip netns exec "$NS_P" tcpdump -i eth0 -n -w "$TMPD/frag.pcap" "ip[6:2] & 0x3fff != 0" >/dev/null 2>&1 &
track_pid $!
sleep 1
ip netns exec "$NS_T" ping -c 3 -i 0.2 -W 2 -M do -s 1472 198.18.21.2 >/dev/null ||
  fail "1500-byte ping T -> P with DF failed"
# The kernel's vxlan device refuses inner packets with DF that do not fit the path (it reports
# a PMTU of 1450 to its own stack), so P's pings go without DF: 1500-byte inner packets, outer
# packets fragmented by P's kernel, reassembled before brisk's socket sees them.
ip netns exec "$NS_P" ping -c 3 -i 0.2 -W 2 -M dont -s 1472 198.18.21.1 >/dev/null ||
  fail "1500-byte ping P -> T failed"
sleep 0.5
kill "${EXTRA_PIDS[-1]}"
wait "${EXTRA_PIDS[-1]}" 2>/dev/null || true
nfrag=$(tcpdump -n -r "$TMPD/frag.pcap" 2>/dev/null | wc -l)
say "outer IPv4 fragments seen on the underlay: $nfrag"
((nfrag >= 12)) || fail "expected fragmented outer packets both ways, saw $nfrag"
pass "1500-byte inner packets cross a 1500-byte underlay as fragments"

check "another VNI to the same remote gets none of VNI 42's traffic"
tun2=$(bkn h bridge tunnel vxlan "$BR" 198.18.20.2 43) || fail "second tunnel refused"
bkn h --json port >"$TMPD/p1.json"
ip netns exec "$NS_P" ping -c 3 -i 0.2 -W 2 198.18.21.1 >/dev/null || fail "ping with two tunnels failed"
rx2=$(bkn h --json port | $PY -c 'import json,sys; print([p["rx_frames"] for p in json.load(sys.stdin) if p["port"] == sys.argv[1]][0])' "$tun2")
[[ "$rx2" == 0 ]] || fail "tunnel $tun2 (VNI 43) received $rx2 frames of VNI 42"
pass "VNI 43 tunnel received nothing"

check "no drops anywhere"
bkn h stats
for r in tunnel_truncated tunnel_malformed oversize tx_error split_horizon; do
  n=$(drop_count h "$r")
  [[ "$n" == 0 ]] || fail "$n frames dropped as $r"
done
pass "no tunnel drops"

check "bridge notunnel removes the tunnel and the traffic stops"
bkn h bridge notunnel "$BR" "$tun" || fail "notunnel refused"
if bkn h bridge notunnel "$BR" "$tun" 2>/dev/null; then fail "second notunnel accepted"; fi
bkn h port | table_rows | contains "^${tun}|" && fail "$tun still listed"
if ip netns exec "$NS_T" ping -c 2 -W 1 198.18.21.2 >/dev/null 2>&1; then
  fail "ping still works after notunnel"
fi
pass "tunnel removed"

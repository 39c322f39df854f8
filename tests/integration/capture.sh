#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# pcap captures: `capture pcap tap` of A's tap and `capture pcap bridge` while A pings B.
#   - the tap capture holds every frame of the exchange: as many frames as A's device sent
#     and received meanwhile, 5 echo requests and 5 replies; tcpdump -r and tshark -r read it
#   - the bridge capture holds each frame once
#   - `capture` lists both with dropped 0; `clear capture` closes (flushes) the files
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump tshark

need_netns
start_briskd --workers 2  # A and B polled by different workers: two capture rings

NS_A="${PFX}-a" NS_B="${PFX}-b"
IP_A=198.18.32.1 IP_B=198.18.32.2
T_A=$(bk tap create 10) || fail "tap create 10"
T_B=$(bk tap create 10) || fail "tap create 10"
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
ip netns exec "$NS_A" ping -c 1 -W 2 "$IP_B" >/dev/null || fail "no connectivity before capturing"
sleep 0.5

check "capture pcap tap $T_A and capture pcap bridge $BR start"
# A relative file is relative to the client's directory.
BRISK_ABS=$(realpath "$BRISK_BIN")
(cd "$TMPD" && "$BRISK_ABS" --socket "$SOCK" capture pcap tap "$T_A" tap.pcap) ||
  fail "capture pcap tap (relative path)"
bk capture pcap bridge "$BR" "$TMPD/bridge.pcap" snaplen 96 || fail "capture pcap bridge"
bk capture
n=$(bk capture | table_rows | grep -c . || true)
((n == 2)) || fail "$n captures listed, want 2"
pass "two captures"

tx0=$(tx_packets "$NS_A" "$T_A") rx0=$(rx_packets "$NS_A" "$T_A")
ip netns exec "$NS_A" ip neigh flush all  # include an ARP exchange
ip netns exec "$NS_A" ping -c 5 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping $IP_A -> $IP_B failed"
sleep 0.5
tx1=$(tx_packets "$NS_A" "$T_A") rx1=$(rx_packets "$NS_A" "$T_A")
frames=$(( (tx1 - tx0) + (rx1 - rx0) ))
say "$T_A: sent $((tx1 - tx0)), received $((rx1 - rx0)) frames during the ping"

check "capture listing: dropped 0"
bk capture
bad=$(bk capture | table_rows | awk -F'|' '$9 != 0' | wc -l)
((bad == 0)) || fail "a capture dropped frames"
pass "no drops"

check "clear capture closes both files"
bk clear capture || fail "clear capture"
n=$(bk capture | table_rows | grep -c . || true)
((n == 0)) || fail "$n captures left after clear"
pass "closed"

check "the tap capture holds every frame of the exchange"
tcpdump -n -e -r "$TMPD/tap.pcap" 2>/dev/null | head -30
total=$(tcpdump -n -r "$TMPD/tap.pcap" 2>/dev/null | wc -l)
req=$(tcpdump -n -r "$TMPD/tap.pcap" "icmp[icmptype] == icmp-echo and src $IP_A and dst $IP_B" 2>/dev/null | wc -l)
rep=$(tcpdump -n -r "$TMPD/tap.pcap" "icmp[icmptype] == icmp-echoreply and src $IP_B" 2>/dev/null | wc -l)
arp=$(tcpdump -n -r "$TMPD/tap.pcap" arp 2>/dev/null | wc -l)
say "tap.pcap: $total frames ($req requests, $rep replies, $arp ARP); device counted $frames"
((req == 5 && rep == 5)) || fail "want 5 requests and 5 replies"
((arp >= 2)) || fail "the ARP exchange is missing"
((total == frames)) || fail "capture holds $total frames, the device sent+received $frames"
tn=$(tshark -r "$TMPD/tap.pcap" 2>/dev/null | wc -l)
((tn == total)) || fail "tshark reads $tn frames, tcpdump $total"
pass "every frame captured; tcpdump and tshark read $total frames"

check "the bridge capture holds each frame once, tagged with its VLAN, truncated to 96 bytes"
tcpdump -n -e -r "$TMPD/bridge.pcap" 2>/dev/null | head -4
breq=$(tcpdump -n -r "$TMPD/bridge.pcap" "vlan 10 and icmp[icmptype] == icmp-echo and src $IP_A" 2>/dev/null | wc -l)
brep=$(tcpdump -n -r "$TMPD/bridge.pcap" "vlan 10 and icmp[icmptype] == icmp-echoreply and src $IP_B" 2>/dev/null | wc -l)
say "bridge.pcap: $breq requests, $brep replies"
((breq == 5 && brep == 5)) || fail "want 5 requests and 5 replies once each"
tshark -r "$TMPD/bridge.pcap" -T fields -e frame.cap_len 2>/dev/null | awk '$1 > 96 { bad = 1 } END { exit bad }' ||
  fail "a record is longer than snaplen 96"
pass "bridge capture correct"

daemon_alive || fail "briskd died"

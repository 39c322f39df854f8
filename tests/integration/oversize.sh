#!/usr/bin/env bash
# Jumbo frames cross whole, and a frame longer than a receive buffer or the output port's MTU
# is dropped and counted as `oversize`, never forwarded cut (datapath/tap_port.cpp,
# afpacket_port.cpp, afxdp_port.cpp with bpf/brisk_xdp.c, tx_queue.cpp). Every device has
# MTU 9000; all ports are on VLAN 10:
#   A: a host tap in namespace A          (takes frames up to a big buffer: jumbo)
#   C: a veth, AF_PACKET, peer in C       (the same)
#   D: a veth, AF_XDP, peer in D          (jumbo on a multi-buffer socket, XDP_USE_SG; else a
#                                          UMEM chunk less the kernel's headroom: 1792)
#   B: a host tap in namespace B, where tcpdump records what arrives
# From A, C and D in turn, scapy sends frames of exactly 1500, 1792, 1793, 1920, 1921 and 9000
# bytes (random payload). Checks: every frame that fits arrives at B byte-identical; no longer
# one arrives at all, cut or whole; the port that refused it counts it as `oversize` (`stats`,
# `--json stats`): D for what its buffer cannot hold (without multi-buffer); B, as the output port, once its MTU is
# lowered to 1500 (read from the device within a second, shown in `port`).
# `ping -s 8972 -M do` crosses taps and AF_PACKET veths at MTU 9000.
source "$(dirname "$0")/lib.sh" "$@"
need_tool tcpdump
need_scapy
need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c" NS_D="${PFX}-d"
SIZES=1500,1792,1793,1920,1921,9000
MTU=9000

T_A=$(bk tap create 10) || fail "tap create 10"
T_B=$(bk tap create 10) || fail "tap create 10"
ns_add_tap "$NS_A" "$T_A" 198.18.71.1/24
ns_add_tap "$NS_B" "$T_B" 198.18.71.2/24
ip -n "$NS_A" link set "$T_A" mtu $MTU
ip -n "$NS_B" link set "$T_B" mtu $MTU
P_C="${PFX}pc" P_D="${PFX}xd"
for x in "$NS_C $P_C" "$NS_D $P_D"; do
  read -r ns host <<<"$x"
  ns_create "$ns"
  ip link add "$host" mtu $MTU type veth peer name "${host}n"
  ip link set "${host}n" netns "$ns"
  ip -n "$ns" link set "${host}n" name eth0
  ip -n "$ns" link set eth0 mtu $MTU up
  ip link set "$host" up
done
bk port add "$P_C" vlan 10 driver afpacket || fail "port add $P_C driver afpacket"
# mtu_of <port>: the MTU brisk has for the port (`--json port`; re-read once a second).
mtu_of() { bk --json port | "$PY" -c '
import json, sys
print(next(p["mtu"] for p in json.load(sys.stdin) if p["port"] == sys.argv[1]))' "$1"; }
taps_at_mtu() { [[ $(mtu_of "$T_A") == "$MTU" && $(mtu_of "$T_B") == "$MTU" ]]; }
# brisk limits what it sends to a port by the MTU it last read: wait until it has the taps' new one.
wait_until 5 taps_at_mtu || fail "brisk still has MTU $(mtu_of "$T_B") for $T_B"
bk port add "$P_D" vlan 10 driver afxdp || fail "port add $P_D driver afxdp"
bk port

cat >"$TMPD/send.py" <<'EOF'
# send.py <iface> <sender id> <sizes> <pcap>: broadcast frames of exactly these sizes, source
# MAC 02:<sender>:00:00:<size>, written to <pcap> as sent.
import os, sys
from scapy.all import Ether, Raw, conf, sendp, wrpcap
conf.verb = 0
iface, sender, sizes, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
frames = []
for n in map(int, sizes.split(",")):
    src = "02:%02x:00:00:%02x:%02x" % (sender, n >> 8, n & 255)
    f = Ether(src=src, dst="ff:ff:ff:ff:ff:ff", type=0x88b5) / Raw(os.urandom(n - 14))
    assert len(bytes(f)) == n
    frames.append(f)
wrpcap(out, frames)
sendp(frames, iface=iface)
EOF
cat >"$TMPD/compare.py" <<'EOF'
# compare.py <sent pcap> <received pcap> <longest frame the sender's port takes>: prints one
# line per problem, nothing when every frame that fits arrived intact and no other did.
import sys
from scapy.all import rdpcap
sent = {bytes(p)[6:12]: bytes(p) for p in rdpcap(sys.argv[1])}
limit = int(sys.argv[3])
got = {}
for p in rdpcap(sys.argv[2]):
    b = bytes(p)
    if b[6:12] in sent:
        got.setdefault(b[6:12], []).append(b)
for src, frame in sent.items():
    arrived = got.get(src, [])
    if len(frame) <= limit:
        if len(arrived) != 1 or arrived[0] != frame:
            print("%d-byte frame: %d arrived, lengths %s, identical: %s" % (
                len(frame), len(arrived), [len(a) for a in arrived], [a == frame for a in arrived]))
    elif arrived:
        print("%d-byte frame arrived (longer than %d): lengths %s" % (
            len(frame), limit, [len(a) for a in arrived]))
EOF

# oversize <port>: the port's oversize drops (`--json stats`).
oversize() {
  bk --json stats | "$PY" -c '
import json, sys
for p in json.load(sys.stdin)["ports"]:
    if p["port"] == sys.argv[1]:
        print(p["drops"]["oversize"])' "$1"
}

# send_from <ns> <dev> <sender id> <port> <buffer> <want oversize>
send_from() {
  local ns=$1 dev=$2 id=$3 port=$4 limit=$5 want=$6
  check "from $port ($dev in $ns, longest frame it takes: $limit bytes)"
  local before
  before=$(oversize "$port")
  ip netns exec "$NS_B" tcpdump -i "$T_B" -n -U -s 0 -w "$TMPD/rx$id.pcap" ether proto 0x88b5 \
    >"$TMPD/tcpdump$id.log" 2>&1 &
  local td=$!
  track_pid $td
  wait_until 5 contains "listening on" "$TMPD/tcpdump$id.log" || fail "tcpdump did not start"
  ip netns exec "$ns" /usr/bin/python3 "$TMPD/send.py" "$dev" "$id" "$SIZES" "$TMPD/tx$id.pcap"
  local after
  grew() { after=$(oversize "$port"); ((after - before >= want)); }
  wait_until 5 grew || true
  sleep 0.5
  kill -INT $td
  wait $td || true
  /usr/bin/python3 "$TMPD/compare.py" "$TMPD/tx$id.pcap" "$TMPD/rx$id.pcap" "$limit" >"$TMPD/diff$id"
  if [[ -s "$TMPD/diff$id" ]]; then
    cat "$TMPD/diff$id"
    fail "what arrived at B from $port is not what it should be"
  fi
  ((after - before == want)) || fail "$port counted $((after - before)) oversize drops, want $want"
  bk stats "$port" | contains "^oversize *| *$after *|" || fail "'stats $port' does not show oversize $after"
  pass "frames up to $limit bytes arrived intact, $want longer ones dropped and counted as oversize"
}

send_from "$NS_A" "$T_A" 1 "$T_A" 9000 0
send_from "$NS_C" eth0 2 "$P_C" 9000 0
# D: a multi-buffer socket (XDP_USE_SG, Linux 6.6) gathers frames spanning chunks, so D
# takes jumbo frames too; without one, a chunk is the limit.
if [[ $(port_json "$P_D" afxdp_multi_buffer) == true ]]; then
  send_from "$NS_D" eth0 3 "$P_D" 9000 0
else
  send_from "$NS_D" eth0 3 "$P_D" 1792 4
fi

check "jumbo ping (8972 bytes, don't fragment) across taps and AF_PACKET at MTU 9000"
ip -n "$NS_C" addr add 198.18.71.3/24 dev eth0
for x in "$NS_A 198.18.71.2" "$NS_B 198.18.71.3" "$NS_C 198.18.71.1"; do
  read -r ns ip <<<"$x"
  ip netns exec "$ns" ping -c 2 -W 2 -s 8972 -M do "$ip" >/dev/null || fail "ping -s 8972 -M do $ip from $ns"
done
pass "8972-byte pings crossed whole"

check "B's MTU lowered to 1500: brisk sends it nothing longer, and counts what it refused"
ip -n "$NS_B" link set "$T_B" mtu 1500
mtu_1500() { [[ $(mtu_of "$T_B") == 1500 ]]; }
wait_until 5 mtu_1500 || fail "port $T_B still shows MTU $(mtu_of "$T_B")"
bk port | table_rows | contains "^$T_B|.*|1500|" || fail "'port' does not show $T_B's MTU 1500"
send_from "$NS_A" "$T_A" 4 "$T_B" 1518 5

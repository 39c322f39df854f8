#!/usr/bin/env bash
# Ethernet over GRE (and malformed VXLAN) against frames crafted with scapy, decoded by tshark.
# (This kernel has no gretap device: scapy plays the far end.)
#   namespace H: briskd; underlay veth 198.18.30.1/24 <-> namespace P: 198.18.30.2/24
#   brisk tunnels to 198.18.30.2: GRE key 1234 (G), GRE without key (G0), VXLAN VNI 5 (V)
#   taps: VLAN 10 -> namespace A 198.18.31.1/24, VLAN 20 -> namespace B 198.18.31.1/24
#          (the same address on both VLANs: who answers tells which VLAN a frame reached)
# Checks:
#   - an ARP request tagged VLAN 10 in GRE key 1234 reaches A only; A's reply leaves brisk as
#     GRE protocol 0x6558, key 1234, inner 802.1Q tag 10 (decoded by tshark)
#   - a VLAN 20 request in keyless GRE reaches B only; the reply has no key field
#   - a wrong key is nobody's traffic: not delivered, not counted
#   - GRE version 1, a 10-byte inner frame, VXLAN without the I flag, a VXLAN header cut short:
#     dropped and counted as tunnel_malformed / tunnel_truncated; briskd keeps running
source "$(dirname "$0")/lib.sh" "$@"
need_tool tcpdump tshark
need_netns
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import scapy' 2>/dev/null || skip "scapy (python3-scapy) missing"

NS_H="${PFX}-h" NS_P="${PFX}-p" NS_A="${PFX}-a" NS_B="${PFX}-b"
ns_create "$NS_H"
ns_create "$NS_P"
veth_between "$NS_H" u0 198.18.30.1/24 "$NS_P" eth0 198.18.30.2/24
start_briskd_in "$NS_H" h

G=$(bkn h bridge tunnel gre "$BR" 198.18.30.2 1234) || fail "gre tunnel with key refused"
G0=$(bkn h bridge tunnel gre "$BR" 198.18.30.2) || fail "gre tunnel without key refused"
V=$(bkn h bridge tunnel vxlan "$BR" 198.18.30.2 5) || fail "vxlan tunnel refused"
tapA=$(bkn h tap create 10) || fail "tap create 10"
tapB=$(bkn h tap create 20) || fail "tap create 20"
move_tap "$NS_H" "$tapA" "$NS_A" 198.18.31.1/24
move_tap "$NS_H" "$tapB" "$NS_B" 198.18.31.1/24
bkn h port

ip netns exec "$NS_P" tcpdump -i eth0 -n -U -w "$TMPD/gre.pcap" proto gre >/dev/null 2>&1 &
track_pid $!
TCPDUMP_PID=$!
sleep 1

# craft <kind>: send one crafted packet from P to H (scapy, kernel routing and ARP).
cat >"$TMPD/craft.py" <<'EOF'
import sys
from scapy.all import conf, send, IP, UDP, Ether, Dot1Q, ARP, Raw
from scapy.layers.l2 import GRE
from scapy.layers.vxlan import VXLAN
from scapy.supersocket import L3RawSocket
conf.L3socket = L3RawSocket
conf.verb = 0
M = "02:00:00:00:99:01"
def arp(vlan, ip):
    e = Ether(src=M, dst="ff:ff:ff:ff:ff:ff")
    a = ARP(op=1, hwsrc=M, psrc="198.18.31.9", pdst=ip)
    return e / Dot1Q(vlan=vlan) / a if vlan else e / a
outer = IP(dst="198.18.30.1")
kind = sys.argv[1]
pkts = {
    "gre-key-vlan10": outer / GRE(key_present=1, key=1234, proto=0x6558) / arp(10, "198.18.31.1"),
    "gre-nokey-vlan20": outer / GRE(proto=0x6558) / arp(20, "198.18.31.1"),
    "gre-wrong-key": outer / GRE(key_present=1, key=999, proto=0x6558) / arp(10, "198.18.31.1"),
    "gre-version1": outer / GRE(key_present=1, key=1234, version=1, proto=0x6558) / arp(10, "198.18.31.1"),
    "gre-short-inner": outer / GRE(key_present=1, key=1234, proto=0x6558) / Raw(b"\x02" * 10),
    "vxlan-no-i-flag": outer / UDP(sport=40000, dport=4789) / VXLAN(flags=0, vni=5) / arp(10, "198.18.31.1"),
    "vxlan-cut": outer / UDP(sport=40000, dport=4789) / Raw(b"\x08\x00\x00\x00"),
}
send(pkts[kind])
EOF
craft() { ip netns exec "$NS_P" /usr/bin/python3 "$TMPD/craft.py" "$1"; }

tapA_rx() { rx_packets "$NS_A" "$tapA"; }
tapB_rx() { rx_packets "$NS_B" "$tapB"; }

check "GRE key 1234, inner VLAN 10: reaches VLAN 10 only"
a0=$(tapA_rx) b0=$(tapB_rx)
craft gre-key-vlan10
wait_until 3 bash -c "[[ \$(ip netns exec $NS_A cat /sys/class/net/$tapA/statistics/rx_packets) -gt $a0 ]]" ||
  fail "VLAN 10 tap received nothing"
sleep 0.5
[[ $(tapB_rx) == "$b0" ]] || fail "VLAN 20 tap received the VLAN 10 frame"
pass "decapsulated onto VLAN 10"

check "keyless GRE, inner VLAN 20: reaches VLAN 20 only"
a0=$(tapA_rx) b0=$(tapB_rx)
craft gre-nokey-vlan20
wait_until 3 bash -c "[[ \$(ip netns exec $NS_B cat /sys/class/net/$tapB/statistics/rx_packets) -gt $b0 ]]" ||
  fail "VLAN 20 tap received nothing"
sleep 0.5
[[ $(tapA_rx) == "$a0" ]] || fail "VLAN 10 tap received the VLAN 20 frame"
pass "decapsulated onto VLAN 20"

check "a key nobody configured is ignored (not delivered, not counted)"
a0=$(tapA_rx)
craft gre-wrong-key
sleep 1
[[ $(tapA_rx) == "$a0" ]] || fail "a frame with GRE key 999 was delivered"
for r in tunnel_malformed tunnel_truncated; do
  [[ $(drop_count h "$r") == 0 ]] || fail "wrong key counted as $r"
done
pass "key 999 ignored"

check "brisk's GRE frames decode in tshark: 0x6558, key, inner VLAN tag"
sleep 0.5
kill "$TCPDUMP_PID"
wait "$TCPDUMP_PID" 2>/dev/null || true
tshark -r "$TMPD/gre.pcap" -Y "gre && arp.opcode == 2" -T fields -E separator=, \
  -e ip.src -e gre.proto -e gre.key -e vlan.id -e arp.src.proto_ipv4 2>/dev/null | sort -u | tee "$TMPD/replies"
contains -x "198.18.30.1,0x6558,0x000004d2,10,198.18.31.1" "$TMPD/replies" ||
  contains -x "198.18.30.1,0x6558,1234,10,198.18.31.1" "$TMPD/replies" ||
  fail "no ARP reply in GRE key 1234 with inner VLAN 10 from brisk"
contains -x "198.18.30.1,0x6558,,20,198.18.31.1" "$TMPD/replies" ||
  fail "no ARP reply in keyless GRE with inner VLAN 20 from brisk"
# (The first replies may also be flooded to the other tunnels: brisk learns the requester's
# MAC within a millisecond, the tap may answer sooner. Flooded copies must decode as well.)
nbad=$(tshark -r "$TMPD/gre.pcap" -Y "ip.src == 198.18.30.1 && (_ws.malformed || gre.proto != 0x6558 || !eth)" 2>/dev/null | wc -l)
[[ "$nbad" == 0 ]] || fail "$nbad GRE frames from brisk do not decode as Ethernet over GRE"
pass "tshark decodes both replies (key 1234 / no key, inner tags 10 / 20)"

check "malformed and truncated encapsulations are dropped and counted"
a0=$(tapA_rx)
craft gre-version1
craft gre-short-inner
craft vxlan-no-i-flag
craft vxlan-cut
wait_until 3 bash -c "[[ \$('$BRISK_BIN' --socket '$TMPD/h.sock' --json stats | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"drops\"]; print(d[\"tunnel_malformed\"] + d[\"tunnel_truncated\"])') == 4 ]]" ||
  fail "expected 4 tunnel drops: $(bkn h stats)"
bkn h stats
per_port() {  # per_port <port> <reason>
  bkn h --json stats | $PY -c 'import json,sys; print([p["drops"][sys.argv[2]] for p in json.load(sys.stdin)["ports"] if p["port"] == sys.argv[1]][0])' "$1" "$2"
}
[[ $(per_port "$G" tunnel_malformed) == 1 ]] || fail "GRE version 1 not counted malformed on $G"
[[ $(per_port "$G" tunnel_truncated) == 1 ]] || fail "10-byte inner frame not counted truncated on $G"
[[ $(per_port "$V" tunnel_malformed) == 1 ]] || fail "VXLAN without I flag not counted malformed on $V"
[[ $(per_port "$V" tunnel_truncated) == 1 ]] || fail "cut VXLAN header not counted truncated on $V"
[[ $(per_port "$G0" tunnel_malformed) == 0 ]] || fail "keyless tunnel counted another tunnel's frame"
[[ $(tapA_rx) == "$a0" ]] || fail "a malformed frame was delivered"
daemon_ok=$(bkn h bridge >/dev/null && echo yes)
[[ "$daemon_ok" == yes ]] || fail "briskd stopped answering"
pass "named drops on the right tunnel; nothing delivered"

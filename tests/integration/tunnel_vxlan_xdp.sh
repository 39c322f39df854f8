#!/usr/bin/env bash
# VXLAN encapsulation and decapsulation in brisk's XDP fast path, against the Linux kernel's
# own vxlan device.
#   namespace H: briskd; underlay veth u0 198.18.24.1/24 <-> namespace P: eth0 198.18.24.2/24
#   P: kernel vxlan device vx0 (VNI 42, UDP 4789) with 198.18.25.2/24
#   brisk: `port add a0 vlan 0 driver afxdp` (a veth whose other end is eth0 198.18.25.1/24 in
#          namespace T) and `bridge tunnel vxlan <br> 198.18.24.2 42`; with A0_DRIVER=afpacket
#          (integration.tunnel_vxlan_xdp.afpacket) a0 is an AF_PACKET port: the tc half alone
#          encapsulates (its counters are the same), the socket filter leaves it what it takes
# Checks:
#   - the tunnel is accelerated, its underlay resolved (u0) and brisk's program on u0;
#   - pings T <-> P are carried by the fast path both ways: the tunnel port's XDP encap and
#     decap counters (`--json port`, `--json stats`) grow by the pings' frames;
#   - the exact bytes of a frame encapsulated in XDP (scapy on P's capture): outer MACs (u0 ->
#     P's eth0), IPv4 198.18.24.1 -> .2 with a valid header checksum, DF clear, TTL 64, UDP
#     checksum 0 to 4789 from the inner flow's hashed source port (an independent Python
#     copy of bpf/brisk_flow_hash.h's function), VXLAN I flag and VNI 42, the inner frame whole;
#   - UDP flows from T with different source ports leave with different outer source ports,
#     all in 32768..60999;
#   - the host's own traffic on the underlay does not notice brisk: ping and TCP between
#     198.18.24.1 and 198.18.24.2 while brisk runs with its program on u0;
#   - TCP T -> P (iperf3, default offloads: partial checksums, GSO super-frames) is
#     encapsulated by brisk's tc program: the encap counter grows by at least 80% of the
#     segments iperf3 sent, the outer headers of captured packets on P's eth0 are right (scapy)
#     and the transfer completes (the inner TCP checksums hold at P). Twice: with P's vx0 at its
#     default MTU 1450 (segments fit the 1500 underlay with the outer headers: their size is
#     kept) and at 1500 (they do not: segments are made 50 bytes shorter);
#   - TCP P -> T: the kernel vxlan device's super-frames and partial checksums are
#     decapsulated by brisk's tc program on u0 (decap counter >= 80% of the segments);
#   - frames too long for the underlay MTU take the socket path (fragmented, not encap);
#   - removing the tunnel detaches brisk's program from u0.
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping tcpdump iperf3
need_netns
need_scapy

NS_H="${PFX}-h" NS_P="${PFX}-p" NS_T="${PFX}-t"
ns_create "$NS_H"
ns_create "$NS_P"
ns_create "$NS_T"
veth_between "$NS_H" u0 198.18.24.1/24 "$NS_P" eth0 198.18.24.2/24
veth_between "$NS_H" a0 "" "$NS_T" eth0 198.18.25.1/24
ip -n "$NS_P" link add vx0 type vxlan id 42 remote 198.18.24.1 local 198.18.24.2 dstport 4789
ip -n "$NS_P" addr add 198.18.25.2/24 dev vx0
ip -n "$NS_P" link set vx0 up
ip netns exec "$NS_P" sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1 || true

start_briskd_in "$NS_H" h

# tun_json <field>: a field of the tunnel port's `--json port` entry (Python expression on p).
tun_json() {
  bkn h --json port | $PY -c '
import json, sys
p = [p for p in json.load(sys.stdin) if p["port"] == sys.argv[1]][0]
print(eval(sys.argv[2]))' "$TUN" "$1"
}

check "the tunnel and the AF_XDP port are accelerated; the underlay is resolved"
bkn h port add a0 vlan 0 driver "${A0_DRIVER:-afxdp}" >/dev/null || fail "port add a0"
TUN=$(bkn h bridge tunnel vxlan "$BR" 198.18.24.2 42) || fail "bridge tunnel vxlan refused"
# The neighbour of 198.18.24.2 is resolved by the kernel once something is sent to it.
ip netns exec "$NS_H" ping -c 1 -W 2 198.18.24.2 >/dev/null || fail "underlay ping failed"
tunnel_resolved() { [[ $(tun_json 'p["fastpath_tunnel"]["resolved"]' 2>/dev/null) == True ]]; }
wait_until 5 tunnel_resolved ||
  fail "tunnel not resolved: $(bkn h --json port)"
[[ $(tun_json 'p["xdp_fastpath"]') == True ]] || fail "tunnel port not accelerated"
[[ $(tun_json 'p["fastpath_tunnel"]["underlay"]') == u0 ]] || fail "underlay is not u0"
[[ $(tun_json 'p["fastpath_tunnel"]["decap"]') == True ]] || fail "no decapsulation on u0"
ip -n "$NS_H" link show dev u0 | contains -E "xdp(generic)?" || fail "no XDP program on u0"
pass "tunnel $TUN accelerated over u0, brisk's program on u0"

check "pings both ways are encapsulated and decapsulated in XDP"
# Learning first (the first frames go through userspace), then the counted pings.
ip netns exec "$NS_T" ping -c 3 -i 0.2 -W 2 198.18.25.2 >/dev/null || fail "ping T -> P failed"
sleep 1.2  # the learned addresses reach the fast path's FDB
enc0=$(tun_json 'p["fastpath_encap"]')
dec0=$(tun_json 'p["fastpath_decap"]')
ip netns exec "$NS_P" tcpdump -i eth0 -n -U -w "$TMPD/vx.pcap" "udp dst port 4789 and src host 198.18.24.1" >/dev/null 2>&1 &
track_pid $!
TCPDUMP_PID=$!
sleep 1
ip netns exec "$NS_T" ping -c 20 -i 0.05 -W 2 198.18.25.2 >/dev/null || fail "ping T -> P failed"
ip netns exec "$NS_P" ping -c 20 -i 0.05 -W 2 198.18.25.1 >/dev/null || fail "ping P -> T failed"
enc=$(( $(tun_json 'p["fastpath_encap"]') - enc0 ))
dec=$(( $(tun_json 'p["fastpath_decap"]') - dec0 ))
# Toward P: T's 20 requests and its 20 replies to P's pings; from P the same.
say "frames encapsulated in XDP: $enc, decapsulated: $dec (40 each way)"
((enc >= 38)) || fail "only $enc of 40 frames toward P were encapsulated in XDP"
((dec >= 38)) || fail "only $dec of 40 frames from P were decapsulated in XDP"
bkn h --json stats | $PY -c '
import json, sys
p = [p for p in json.load(sys.stdin)["ports"] if p["port"] == sys.argv[1]][0]
assert p["fastpath"]["encap"] >= 38 and p["fastpath"]["decap"] >= 38, p' "$TUN" ||
  fail "stats does not show the tunnel's encap/decap"
pass "the fast path carried the tunnel's frames ($enc encapsulated, $dec decapsulated)"

check "UDP flows leave with the flow's hashed source port"
ip netns exec "$NS_T" $PY - <<'PYEOF' || fail "could not send UDP flows"
import socket
for port in range(40000, 40040):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.25.1", port))
    for _ in range(2):
        s.sendto(b"x" * 32, ("198.18.25.2", 9))
    s.close()
PYEOF
sleep 1
kill "$TCPDUMP_PID"
wait "$TCPDUMP_PID" 2>/dev/null || true
untrack_pid "$TCPDUMP_PID"
cat >"$TMPD/check.py" <<'PYEOF'
import sys
from scapy.all import rdpcap, Ether, IP, UDP, raw
from scapy.layers.vxlan import VXLAN

def mix(h, v):
    M = 0xffffffff
    v = (v * 0xcc9e2d51) & M
    v = ((v << 15) | (v >> 17)) & M
    v = (v * 0x1b873593) & M
    h ^= v
    h = ((h << 13) | (h >> 19)) & M
    return (h * 5 + 0xe6546b64) & M

def final(h):
    h ^= h >> 16
    h = (h * 0x85ebca6b) & 0xffffffff
    h ^= h >> 13
    h = (h * 0xc2b2ae35) & 0xffffffff
    return h ^ (h >> 16)

def sport(frame):  # untagged Ethernet: what this test sends (IPv4, ARP)
    b = bytes(frame)
    l3 = b[14:]
    h = 0x62726b73
    etype = int.from_bytes(b[12:14], "big")
    if etype == 0x0800:
        h = mix(h, int.from_bytes(l3[12:16], "big"))
        h = mix(h, int.from_bytes(l3[16:20], "big"))
        h = mix(h, l3[9])
        ihl = (l3[0] & 15) * 4
        frag = ((l3[6] & 0x3f) | l3[7]) != 0
        if l3[9] in (6, 17, 132) and not frag:
            h = mix(h, int.from_bytes(l3[ihl:ihl + 4], "big"))
    else:
        for i in (0, 4, 8):
            h = mix(h, int.from_bytes(b[i:i + 4], "big"))
        h = mix(h, etype)
    h = final(h)
    h = (h ^ (h << 16)) & 0xffffffff
    return ((h * (61000 - 32768)) >> 32) + 32768

u0_mac, p_mac = sys.argv[2], sys.argv[3]
pkts = rdpcap(sys.argv[1])
icmp = 0
udp_ports = {}
for p in pkts:
    ip, udp = p[IP], p[UDP]
    assert p[Ether].src == u0_mac and p[Ether].dst == p_mac, p.summary()
    assert ip.src == "198.18.24.1" and ip.dst == "198.18.24.2", p.summary()
    assert ip.flags.DF == 0 and ip.frag == 0 and ip.ttl == 64 and ip.ihl == 5, ip.show(dump=True)
    # The header checksum as sent: recomputed by scapy over the same bytes.
    got = ip.chksum
    ip2 = IP(raw(ip)[:20])
    del ip2.chksum
    assert IP(raw(ip2)).chksum == got, "bad IPv4 header checksum"
    assert udp.dport == 4789 and udp.chksum == 0, udp.show(dump=True)
    assert udp.len == len(raw(udp)), "UDP length"
    vx = p[VXLAN]
    assert vx.flags == 0x08 and vx.vni == 42, vx.show(dump=True)
    inner = vx.payload
    assert 32768 <= udp.sport <= 60999, udp.sport
    assert udp.sport == sport(inner), (udp.sport, sport(inner), inner.summary())
    if inner.haslayer("ICMP"):
        icmp += 1
    elif inner.haslayer(UDP) and inner[UDP].dport == 9:
        udp_ports.setdefault(inner[UDP].sport, set()).add(udp.sport)
print("encapsulated ICMP frames", icmp, "UDP flows", len(udp_ports),
      "distinct outer ports", len({next(iter(v)) for v in udp_ports.values()}))
assert icmp >= 20, "too few ICMP frames captured"
assert len(udp_ports) == 40, "not every UDP flow captured"
assert all(len(v) == 1 for v in udp_ports.values()), "a flow changed its outer source port"
assert len({next(iter(v)) for v in udp_ports.values()}) >= 30, "flows do not spread"
PYEOF
/usr/bin/python3 "$TMPD/check.py" "$TMPD/vx.pcap" "$(mac_of "$NS_H" u0)" "$(mac_of "$NS_P" eth0)" ||
  fail "encapsulated frames are not as expected"
pass "outer headers exact; one source port per flow, spread over the range"

check "the host's own underlay traffic does not notice brisk"
ip netns exec "$NS_H" ping -c 5 -i 0.1 -W 2 198.18.24.2 >/dev/null || fail "underlay ping H -> P failed"
ip netns exec "$NS_P" ping -c 5 -i 0.1 -W 2 198.18.24.1 >/dev/null || fail "underlay ping P -> H failed"
ip netns exec "$NS_P" $PY - <<'PYEOF' &
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.24.2", 5201))
s.listen(1)
s.settimeout(10)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
c.sendall(str(n).encode())
c.close()
PYEOF
track_pid $!
sleep 0.5
got=$(ip netns exec "$NS_H" $PY - <<'PYEOF'
import socket
c = socket.create_connection(("198.18.24.2", 5201), timeout=10)
data = bytes(range(256)) * 4096 * 8  # 8 MiB
c.sendall(data)
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
PYEOF
) || fail "TCP over the underlay failed"
[[ $got == 8388608 ]] || fail "TCP over the underlay delivered $got of 8388608 bytes"
pass "ping and an 8 MiB TCP transfer between the underlay addresses"

# tcp_through_tunnel <label> <port>: iperf3 T -> P for 2 s through the tunnel; checks that
# brisk's tc program encapsulated it and that P's capture of the underlay decodes.
tcp_through_tunnel() {
  local label=$1 port=$2 enc0 enc bytes segs
  enc0=$(tun_json 'p["fastpath_encap"]')
  ip netns exec "$NS_P" iperf3 -s -1 -B 198.18.25.2 -p "$port" >"$TMPD/iperf-s-$port" 2>&1 &
  track_pid $!
  wait_until 5 bash -c "ip netns exec $NS_P ss -ltn 'sport = :$port' | grep -q LISTEN" || true
  ip netns exec "$NS_P" tcpdump -i eth0 -n -U -c 50 -w "$TMPD/tcp-$port.pcap" \
    "udp dst port 4789 and src host 198.18.24.1 and greater 1000" >/dev/null 2>&1 &
  local dump=$!
  track_pid "$dump"
  sleep 1
  ip netns exec "$NS_T" iperf3 -c 198.18.25.2 -p "$port" -t 2 -J >"$TMPD/iperf-$port.json" ||
    fail "$label: iperf3 failed: $(tail -5 "$TMPD/iperf-$port.json")"
  sleep 0.5
  kill "$dump" 2>/dev/null || true
  wait "$dump" 2>/dev/null || true
  untrack_pid "$dump"
  bytes=$($PY -c 'import json,sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$TMPD/iperf-$port.json")
  enc=$(( $(tun_json 'p["fastpath_encap"]') - enc0 ))
  segs=$((bytes / 1460))
  say "$label: $bytes bytes received by P (>= $segs segments), $enc frames encapsulated in the fast path"
  ((bytes > 1000000)) || fail "$label: TCP carried only $bytes bytes"
  ((enc * 10 >= segs * 8)) || fail "$label: only $enc of >= $segs segments took the fast path"
  $PY - "$TMPD/tcp-$port.pcap" "$port" <<'PYEOF' || fail "$label: the captured VXLAN packets are not right"
import sys
from scapy.all import rdpcap, IP, UDP, TCP, raw
from scapy.layers.vxlan import VXLAN
pkts = rdpcap(sys.argv[1])
n = 0
for p in pkts:
    ip, udp = p[IP], p[UDP]
    assert ip.src == "198.18.24.1" and ip.dst == "198.18.24.2" and ip.ttl == 64, p.summary()
    ip2 = IP(raw(ip)[:20])
    del ip2.chksum
    assert IP(raw(ip2)).chksum == ip.chksum, "bad IPv4 header checksum"
    assert udp.dport == 4789 and udp.chksum == 0 and 32768 <= udp.sport <= 60999, udp.summary()
    assert p[VXLAN].vni == 42, p[VXLAN].summary()
    inner = p[VXLAN].payload
    assert inner[IP].src == "198.18.25.1" and inner[TCP].dport == int(sys.argv[2]), inner.summary()
    n += 1
print("decoded", n, "VXLAN packets carrying the TCP flow")
assert n >= 10, "too few packets captured"
PYEOF
  pass "$label: TCP through the tc fast path ($enc frames encapsulated)"
}

check "TCP with default offloads through the tunnel (inner MTU 1450)"
tcp_through_tunnel "MSS fits" 5301

check "TCP P -> T with default offloads: the kernel's VXLAN super-frames decapsulated by tc"
dec0=$(tun_json 'p["fastpath_decap"]')
ip netns exec "$NS_P" iperf3 -s -1 -B 198.18.25.2 -p 5303 >"$TMPD/iperf-s-5303" 2>&1 &
track_pid $!
wait_until 5 bash -c "ip netns exec $NS_P ss -ltn 'sport = :5303' | grep -q LISTEN" || true
ip netns exec "$NS_T" iperf3 -c 198.18.25.2 -p 5303 -t 2 -R -J >"$TMPD/iperf-5303.json" ||
  fail "iperf3 -R failed: $(tail -5 "$TMPD/iperf-5303.json")"
bytes=$($PY -c 'import json,sys
print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$TMPD/iperf-5303.json")
dec=$(( $(tun_json 'p["fastpath_decap"]') - dec0 ))
segs=$((bytes / 1460))
say "$bytes bytes received by T (>= $segs segments), $dec frames decapsulated in the fast path"
((bytes > 1000000)) || fail "TCP P -> T carried only $bytes bytes"
((dec * 10 >= segs * 8)) || fail "only $dec of >= $segs segments from P were decapsulated in the fast path"
pass "TCP P -> T decapsulated in the kernel ($dec frames)"

check "frames too long for the underlay go through the socket path"
ip -n "$NS_P" link set vx0 mtu 1500
enc0=$(tun_json 'p["fastpath_encap"]')
ip netns exec "$NS_T" ping -c 3 -i 0.2 -W 2 -M do -s 1472 198.18.25.2 >/dev/null ||
  fail "1500-byte ping T -> P failed"
enc=$(( $(tun_json 'p["fastpath_encap"]') - enc0 ))
((enc == 0)) || fail "$enc oversize frames were encapsulated in XDP"
pass "1500-byte inner packets crossed (fragmented by the kernel), none in XDP"

check "TCP with default offloads through the tunnel (inner MTU 1500: segments shortened)"
tcp_through_tunnel "segments shortened" 5302

check "removing the tunnel detaches brisk's program from u0"
bkn h bridge notunnel "$BR" "$TUN" || fail "notunnel refused"
ip -n "$NS_H" link show dev u0 | contains -E "xdp" && fail "XDP program left on u0"
pass "u0 has no XDP program"

#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

The files are committed; rerun this after changing the seeds. Python standard library only.
fuzz_server records are described above SERVER below.
fuzz_pipeline records are [ctl][len_hi][len_lo][frame] (see fuzz_pipeline.cpp); ctl & 7 is
the ingress port: 0 s0 (bound 02:..:01 198.18.60.1), 1 s1 (bound 02:..:02 MAC only, and
02:..:12 198.18.60.2), 2 p2, 3 p3 (VLAN 20), 4 t4 (trunk all), 5 t5 (trunk 10,20 native 10),
6 the bridge's own port.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

BC = bytes([0xff] * 6)
M1 = bytes.fromhex("020000000001")
M2 = bytes.fromhex("020000000002")
M12 = bytes.fromhex("020000000012")
MX = bytes.fromhex("0200000000aa")
IP1 = bytes([198, 18, 60, 1])
IP2 = bytes([198, 18, 60, 2])
IPX = bytes([198, 18, 60, 99])
IP6_1 = bytes.fromhex("20010db8000000000000000000000001")
LL6 = bytes.fromhex("fe80000000000000") + bytes.fromhex("000000fffe000001")


def eth(dst, src, etype, payload=b"", tags=()):
    h = dst + src
    for tpid, vid in tags:
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", etype) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst)
    return h + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv6(src, dst, nh, payload):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 255) + src + dst + payload


def rec(port, frame, tick=False):
    return bytes([(port & 7) | (0x80 if tick else 0)]) + struct.pack("!H", len(frame)) + frame


inner = eth(BC, MX, 0x0806, arp(1, MX, IPX, bytes(6), IP1))
vxlan = eth(M1, M2, 0x0800, ipv4(IP2, IP1, 17, udp(4789, 4789, bytes([8, 0, 0, 0, 0, 0, 42, 0]) + inner)))
gre = eth(M1, M12, 0x0800, ipv4(IP2, IP1, 47, struct.pack("!HHI", 0x2000, 0x6558, 7) + inner))
ns = bytes([135, 0, 0, 0, 0, 0, 0, 0]) + IP6_1 + bytes([1, 1]) + M1
na = bytes([136, 0, 0, 0, 0x60, 0, 0, 0]) + IP6_1 + bytes([2, 1]) + M1
rs = bytes([133, 0, 0, 0, 0, 0, 0, 0]) + bytes([1, 1]) + M1
SOLICITED = bytes.fromhex("ff0200000000000000000001ff000001")
MC6 = bytes.fromhex("333300000001")

PIPELINE = {
    "arp_request_reply": rec(0, eth(BC, M1, 0x0806, arp(1, M1, IP1, bytes(6), IP2)))
    + rec(1, eth(M1, M12, 0x0806, arp(2, M12, IP2, M1, IP1))),
    "arp_poison": rec(1, eth(M1, M12, 0x0806, arp(2, M12, IPX, M1, IP1)))
    + rec(2, eth(M1, MX, 0x0806, arp(2, MX, IP2, M1, IP1))),
    "arp_truncated": rec(0, eth(BC, M1, 0x0806, arp(1, M1, IP1, bytes(6), IP2)[:17])),
    "ipv4_icmp": rec(0, eth(M12, M1, 0x0800, ipv4(IP1, IP2, 1, bytes(16)))) + rec(1, eth(M1, M12, 0x0800, ipv4(IP2, IP1, 1, bytes(16)))),
    "ipv4_truncated": rec(0, eth(M12, M1, 0x0800, bytes([0x45, 0, 0, 40]))),
    "udp_truncated": rec(4, eth(M12, MX, 0x0800, ipv4(IPX, IP2, 17, udp(53, 53, b""))[:24], tags=[(0x8100, 10)])),
    "vxlan": rec(1, vxlan) + rec(4, vxlan[:50]),
    "gre": rec(1, gre) + rec(5, gre[:38]),
    "ipv6_nd": rec(0, eth(MC6, M1, 0x86DD, ipv6(LL6, SOLICITED, 58, ns)))
    + rec(0, eth(MC6, M1, 0x86DD, ipv6(IP6_1, SOLICITED, 58, na)))
    + rec(0, eth(MC6, M1, 0x86DD, ipv6(LL6, SOLICITED, 58, rs)))
    + rec(0, eth(MC6, M1, 0x86DD, ipv6(IP6_1, SOLICITED, 58, na[:12]))),
    "stacked_vlans": rec(4, eth(BC, MX, 0x0800, bytes(46), tags=[(0x8100, 10), (0x8100, 20), (0x8100, 30)]))
    + rec(5, eth(BC, MX, 0x0800, bytes(46), tags=[(0x88A8, 20), (0x8100, 10)]))
    + rec(0, eth(BC, M1, 0x0800, bytes(46), tags=[(0x8100, 0), (0x8100, 20)]))
    + rec(6, eth(BC, MX, 0x0800, bytes(46), tags=[(0x8100, 4095)])),
    "qinq": rec(7, eth(BC, M2, 0x0800, bytes(46), tags=[(0x8100, 7)]))
    + rec(7, eth(BC, M2, 0x0800, bytes(46)))
    + rec(4, eth(M2, MX, 0x0800, bytes(46), tags=[(0x8100, 10), (0x8100, 7)]))
    + rec(4, eth(BC, MX, 0x0800, bytes(2), tags=[(0x8100, 10), (0x8100, 7)]))
    + rec(7, eth(BC, M2, 0x0806, arp(1, M2, IPX, bytes(6), IP1), tags=[(0x8100, 7), (0x8100, 8)])),
    "runts": b"".join(rec(p, eth(BC, MX, 0x0800)[:n]) for p, n in [(0, 0), (1, 6), (2, 13), (4, 14), (4, 17)]),
    "giants": rec(2, eth(BC, MX, 0x0800, bytes(1906))) + rec(4, eth(BC, MX, 0x0800, bytes(1906), tags=[(0x8100, 10)]))
    + rec(3, eth(BC, MX, 0x0800, bytes(3000))),
    "storm_and_ticks": b"".join(rec(1, eth(BC, M2, 0x88B5, bytes(46)), tick=(i % 20 == 0)) for i in range(80)),
    "mac_flood": b"".join(rec(1, eth(BC, M2, 0x88B5, bytes(46))) for _ in range(2))
    + b"".join(rec(2, eth(BC, bytes([2, 0x66, 0, 0, 0, i]), 0x88B5, bytes(46))) for i in range(100)),
}

COMMANDS = {
    "minimega": "tap create 10\ntap create LAN bridge b2 name web ip 198.18.0.1/24\ntap\nbridge\n"
    "tap delete 1\nbridge destroy b2\n",
    "security": "tap create 10 name a\nport security a mac 02:00:00:00:00:01 ip 198.18.60.1,2001:db8::1\n"
    "port security a limit 4\nport flood a off\nport storm a 100\nport security\nport security a off\n"
    "port storm a off\nport flood a on\n",
    "ports_and_fdb": "port add veth0 trunk 10,20-30 native 10 driver afpacket\nport add veth1 vlan 5\n"
    "bridge trunk fzbr veth2\nbridge notrunk fzbr veth2\nfdb add fzbr 10 02:00:00:00:00:05 veth0\nfdb show\n"
    "fdb flush fzbr port veth0 vlan 10\nfdb del fzbr 10 02:00:00:00:00:05\nport delete veth1\nstats\nstats veth0\n",
    "qinq": "tap create 100 name q\nport vlan q dot1q-tunnel 100\nport add v0 dot1q-tunnel 7\n"
    "port vlan v0 trunk 10,20 native 20\nport vlan v0 access 5\nport vlan q qinq 1\nport\ntap\n",
    "config": "bridge config fzbr fdb-limit=16\nbridge config fzbr ageing=0\nbridge ageing fzbr 30\nnuke\nhelp\n",
    "bad": "tap create 5000\nport security nosuch mac zz\nfdb add fzbr 4095 ff:ff:ff:ff:ff:ff x\n"
    "bridge config fzbr fdb-limit=0\nport add x trunk 1-\nport storm a 0\n",
}

# fuzz_server records (see fuzz_server.cpp): 0 open <cfg>, 1 feed <c> <n> <bytes>, 2 eof <c>,
# 3 wait <t * 40 ms>, 4 take <c> <n * 8 + 1>, 5 feed-all <n> <bytes>. cfg: bit 0 HTTP, bit 7
# the real size cap, else 1 + ((cfg >> 1) & 63) * 8 bytes.
def s_open(cfg):
    return bytes([0, cfg])


def s_feed(c, b):
    return b"".join(bytes([1, c, len(b[i:i + 255])]) + b[i:i + 255] for i in range(0, len(b), 255))


def s_feed_all(b):
    return bytes([5, len(b)]) + b


def s_eof(c):
    return bytes([2, c])


def s_wait(t):
    return bytes([3, t])


def s_take(c, n=255):
    return bytes([4, c, n])


REQ = b'{"argv": ["tap", "create", "10", "name", "web"]}\n'
GET = b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n"
SERVER = {
    "one_request": s_open(0x80) + s_feed(0, REQ) + s_take(0) + s_take(0),
    "chunked_many": s_open(0x80) + s_open(0x81) + s_open(0x20)
    + b"".join(s_feed_all(REQ[i:i + 3]) for i in range(0, len(REQ), 3))
    + s_feed(1, GET) + s_eof(2) + b"".join(s_take(c) for c in range(3) for _ in range(2)),
    "byte_by_byte": s_open(0x80) + s_open(0x80) + b"".join(s_feed(i % 2, REQ[i // 2:i // 2 + 1]) for i in range(2 * len(REQ)))
    + s_take(0) + s_take(1),
    "deadlines": s_open(0x80) + s_feed(0, REQ[:10]) + s_wait(100) + s_open(0x80) + s_wait(30)
    + s_feed(1, REQ) + s_take(1, 0) + s_wait(255) + s_take(0),
    "too_long": s_open(0x02) + s_open(0x03) + s_feed_all(b"x" * 20) + s_open(0x80)
    + s_feed(2, b"[" * 300 + b"\n") + s_take(0) + s_take(1) + s_take(2),
    "eof_partial": s_open(0x80) + s_feed(0, b'{"argv": ["bridge"]}') + s_eof(0) + s_open(0x80) + s_eof(1)
    + s_take(0),
    "bad_json": s_open(0x80) + s_feed(0, b'{"argv": [1, "\xff", {"a": []}]}\n') + s_open(0x80)
    + s_feed(1, b'{"argv": "tap"}\n') + s_open(0x80) + s_feed(2, b'{"argv": ["\\u00e9", "a\\nb"]}\n')
    + s_take(0) + s_take(1) + s_take(2),
}


# State files (fuzz_state): brisk's own document, every section, and the shapes that must be
# refused or kept pending rather than crash (nesting, wrong types, huge numbers).
STATE_FULL = """{"brisk_state": 1,
 "bridges": [{"name": "fzbr", "ageing": 120, "fdb_limit": 1000}, {"name": "b2"}],
 "aliases": [{"alias": "LAN", "vlan": 101}],
 "taps": [{"name": "a", "bridge": "fzbr", "vlan": 10, "alias": "", "ip": "198.18.0.1/24"},
          {"name": "l", "bridge": "fzbr", "vlan": 101, "alias": "LAN", "ip": ""},
          {"name": "q", "bridge": "b2", "vlan": 100, "mode": "dot1q-tunnel"},
          {"name": "t", "bridge": "fzbr", "vlan": 0, "mode": "trunk", "vlans": "10,20", "native": 20},
          {"name": "m", "bridge": "fzbr", "vlan": 10}],
 "ports": [{"name": "v0", "bridge": "fzbr", "mode": "trunk", "vlans": "all", "native": 0, "driver": "afpacket"},
           {"name": "v1", "bridge": "fzbr", "mode": "access", "vlan": 5, "driver": "afpacket"}],
 "tunnels": [{"name": "x0", "bridge": "fzbr", "type": "vxlan", "remote": "198.18.9.2", "key": 42},
             {"name": "g0", "bridge": "b2", "type": "gre", "remote": "198.18.9.3"}],
 "vhosts": [{"name": "vh", "bridge": "fzbr", "vlan": 30, "socket": "/tmp/fz.sock", "server": false,
             "mode": "dot1q-tunnel"}],
 "security": [{"port": "a", "bindings": [{"mac": "02:00:00:00:00:01", "ips": ["198.18.0.1", "2001:db8::1"]}],
               "limit": 4, "flood": false, "storm_pps": 100}],
 "mirrors": [{"bridge": "fzbr", "src": "a", "dst": "m"}],
 "fdb": [{"bridge": "fzbr", "vlan": 10, "mac": "02:00:00:00:00:99", "port": "v1"}],
 "future_section": [{"anything": [1, 2, 3]}]}
"""

STATE = {
    "full": STATE_FULL,
    "empty": '{"brisk_state": 1}',
    "deep": '{"brisk_state": 1, "taps": ' + "[" * 40 + "]" * 40 + "}",
    "deep_ok": '{"brisk_state": 1, "x": ' + "[" * 30 + "]" * 30 + "}",
    "types": '{"brisk_state": 1, "fdb": [5, "x", null, {"vlan": "ten"}], "taps": {"name": "t1"},'
    ' "bridges": "fzbr", "ports": [[1]], "security": [true], "aliases": [{"alias": 5, "vlan": []}],'
    ' "mirrors": 7, "vhosts": [{"name": {}}], "tunnels": [{"name": "x", "key": "k"}]}',
    "numbers": '{"brisk_state": 9, "bridges": [{"name": "fzbr", "ageing": -1, "fdb_limit": 1e400}],'
    ' "taps": [{"name": "n", "bridge": "fzbr", "vlan": 18446744073709551616}],'
    ' "fdb": [{"bridge": "fzbr", "vlan": 4095, "mac": "02:00:00:00:00:01", "port": "fzbr"}]}',
    "pending": '{"brisk_state": 1, "ports": [{"name": "gone", "bridge": "fzbr", "mode": "access",'
    ' "vlan": 7, "driver": "dpdk", "pending": "no such device"}]}',
    "not_state": '[1, 2, 3]',
}

# fuzz_ovsdb: <table-updates> messages back to back, as ovsdb-server sends them (monitor
# reply, then updates). Rows: bridge "ob" with its own interface, ports of each type.
def _ovs_map(d):
    return ["map", [[k, v] for k, v in d.items()]]


def _ovs_uuids(*u):
    return ["set", [["uuid", x] for x in u]]


def _ovs_iface(name, typ, **opts):
    return {"new": {"name": name, "type": typ, "options": _ovs_map(opts)}}


def _ovs_port(name, iface, **cols):
    row = {"name": name, "interfaces": _ovs_uuids(iface)}
    row.update(cols)
    return {"new": row}


_OVS_FULL = {
    "Open_vSwitch": {"o": {"new": {"next_cfg": 1, "bridges": _ovs_uuids("b1"),
                                   "other_config": _ovs_map({})}}},
    "Bridge": {"b1": {"new": {"name": "ob", "ports": _ovs_uuids("pb", "p1", "p2", "p3", "p4", "p5"),
                              "mirrors": _ovs_uuids("m1"),
                              "other_config": _ovs_map({"mac-aging-time": "30"})}}},
    "Port": {"pb": _ovs_port("ob", "ib"),
             "p1": _ovs_port("o1", "i1", tag=101),
             "p2": _ovs_port("o2", "i2", tag=10, trunks=["set", [10, 20]], vlan_mode="native-untagged"),
             "p3": _ovs_port("o3", "i3"),
             "p4": _ovs_port("o4", "i4", tag=4095),
             "p5": _ovs_port("o5", "i5")},
    "Interface": {"ib": _ovs_iface("ob", "internal"),
                  "i1": _ovs_iface("o1", "internal"),
                  "i2": _ovs_iface("o2", "tap"),
                  "i3": _ovs_iface("o3", "vxlan", remote_ip="198.18.9.9", key="3735928559"),
                  "i4": _ovs_iface("o4", "bogus"),
                  "i5": _ovs_iface("o5", "dpdkvhostuserclient", **{"vhost-server-path": "/run/x.sock"})},
    "Mirror": {"m1": {"new": {"name": "m1", "select_all": False, "select_src_port": _ovs_uuids("p1"),
                              "select_dst_port": _ovs_uuids("p1"), "select_vlan": ["set", []],
                              "output_port": _ovs_uuids("p2"), "output_vlan": ["set", []]}}},
}
OVSDB = {
    "full": json.dumps(_OVS_FULL),
    "full_then_changes": json.dumps(_OVS_FULL) + "\n" + json.dumps(
        {"Port": {"p1": _ovs_port("o1", "i1", tag=["set", []])}}) + json.dumps(
        {"Bridge": {"b1": {"new": {"name": "ob", "ports": _ovs_uuids("pb", "p1"),
                                   "mirrors": ["set", []], "other_config": _ovs_map({})}}},
         "Port": {"p2": {"old": {}}}}),
    "malformed": '{"Port": {"p1": {"new": 5}}} {"Bridge": 3} {"Interface": {"i": {"new": {"name": ["set", [1]]}}}}',
}


def write(target, files):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, blob in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob if isinstance(blob, bytes) else blob.encode())


write("fuzz_pipeline", PIPELINE)
write("fuzz_commands", COMMANDS)
write("fuzz_server", SERVER)
write("fuzz_state", STATE)
write("fuzz_ovsdb", OVSDB)

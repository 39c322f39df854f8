#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# A MAC flood (macof-style: thousands of frames with random source MACs, sent with scapy) from
# namespace A on VLAN 10, while B and C keep talking:
#   1. `port security <A's tap> limit 16`: A's tap holds exactly 16 FDB entries, B and C stay
#      learned and ping each other during the flood, the evictions show in `stats`
#   2. no per-port limit, `bridge config <b> fdb-limit=64` and `port storm <A's tap> 200`: the
#      table stays at 64 entries, the fair eviction takes A's entries, never B's or C's, and
#      storm control drops most of the flooded unknown unicast (storm_control)
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping
need_scapy

need_netns
start_briskd

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c"
IP_A=198.18.51.1 IP_B=198.18.51.2 IP_C=198.18.51.3
FLOOD=3000

T_A=$(bk tap create 10) || fail "tap create 10"
T_B=$(bk tap create 10) || fail "tap create 10"
T_C=$(bk tap create 10) || fail "tap create 10"
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
ns_add_tap "$NS_C" "$T_C" "$IP_C/24"
MAC_A=$(mac_of "$NS_A" "$T_A")
MAC_B=$(mac_of "$NS_B" "$T_B")
MAC_C=$(mac_of "$NS_C" "$T_C")
say "A (flooder): $T_A $MAC_A; B: $T_B $MAC_B; C: $T_C $MAC_C (VLAN 10)"

# json_get <python expression on j>: a value from `brisk --json stats`.
json_get() { bk --json stats | "$PY" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
# port_entries <port>: FDB entries pointing at <port>.
port_entries() { bk fdb show "$BR" | table_rows | awk -F'|' -v p="$1" '$4 == p' | grep -c . || true; }

# flood <n>: n frames from A with random unicast, locally administered source and destination
# MACs (unknown unicast, so they are flooded to B and C, whose kernels ignore them).
flood() {
  ip netns exec "$NS_A" /usr/bin/python3 - "$T_A" "$1" <<'EOF'
import random, sys
from scapy.all import Ether, Raw, conf, sendp
conf.verb = 0
iface, n = sys.argv[1], int(sys.argv[2])
def rmac():
    b = [random.randrange(256) for _ in range(6)]
    b[0] = (b[0] & 0xfc) | 0x02
    return ":".join("%02x" % x for x in b)
sendp([Ether(src=rmac(), dst=rmac(), type=0x88b5) / Raw(b"\0" * 46) for _ in range(n)], iface=iface)
EOF
}

check "B, C and A learned"
ip netns exec "$NS_B" ping -c 2 -i 0.2 -W 2 "$IP_C" >/dev/null || fail "ping B -> C failed"
ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping A -> B failed"
learned() { [[ "$(fdb_port 10 "$MAC_B")" == "$T_B" && "$(fdb_port 10 "$MAC_C")" == "$T_C" ]]; }
wait_until 2 learned || fail "B and C not learned: $(bk fdb show "$BR")"
pass "learned"

# ---------------------------------------------------------------- 1. per-port limit
check "port security $T_A limit 16, then $FLOOD random source MACs from A while B pings C"
bk port security "$T_A" limit 16 || fail "port security $T_A limit 16"
ev0=$(json_get "j['fdb']['$BR']['evicted']")
rx0=$(stat_of "$T_A" rx_frames)
ip netns exec "$NS_B" ping -c 10 -i 0.2 -W 2 "$IP_C" >"$TMPD/ping1.txt" 2>&1 &
PING_PID=$!
track_pid "$PING_PID"
flood "$FLOOD" || fail "scapy flood failed"
wait "$PING_PID" || fail "ping B -> C failed during the flood: $(cat "$TMPD/ping1.txt")"
sleep 0.3  # let the control thread apply the last learn requests
bk fdb show "$BR" | head -n 4
n_a=$(port_entries "$T_A")
rx1=$(stat_of "$T_A" rx_frames)
ev1=$(json_get "j['fdb']['$BR']['evicted']")
say "brisk received $((rx1 - rx0)) frames on $T_A; FDB entries on $T_A: $n_a; evicted: $((ev1 - ev0))"
bk stats | sed -n '/^bridge /,$p'
((rx1 - rx0 >= FLOOD / 2)) || fail "only $((rx1 - rx0)) of $FLOOD flood frames reached brisk"
((n_a == 16)) || fail "$T_A has $n_a FDB entries, want its limit 16"
((ev1 - ev0 >= rx1 - rx0 - 20)) || fail "evicted grew by $((ev1 - ev0)), want about $((rx1 - rx0 - 16))"
learned || fail "B or C lost its FDB entry to the flood: $(bk fdb show "$BR" | grep -v "$T_A")"
ip netns exec "$NS_C" ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping C -> B failed after the flood"
pass "$T_A stays at 16 entries, B and C keep forwarding"

# ---------------------------------------------------------------- 2. bridge limit + storm
check "fdb-limit=64 on $BR, no per-port limit, storm control 200 frames/s on $T_A"
bk port security "$T_A" limit 0 || fail "port security $T_A limit 0"
bk bridge config "$BR" fdb-limit=64 || fail "bridge config fdb-limit=64"
bk port storm "$T_A" 200 || fail "port storm $T_A 200"
ip netns exec "$NS_B" ping -c 2 -i 0.2 -W 2 "$IP_C" >/dev/null || fail "ping B -> C failed"
st0=$(json_get "j['drops']['storm_control']")
brx0=$(rx_packets "$NS_B" "$T_B")
ip netns exec "$NS_B" ping -c 10 -i 0.2 -W 2 "$IP_C" >"$TMPD/ping2.txt" 2>&1 &
PING_PID=$!
track_pid "$PING_PID"
flood "$FLOOD" || fail "scapy flood failed"
wait "$PING_PID" || fail "ping B -> C failed during the second flood: $(cat "$TMPD/ping2.txt")"
sleep 0.3
total=$(fdb_count)
n_a=$(port_entries "$T_A")
st1=$(json_get "j['drops']['storm_control']")
brx1=$(rx_packets "$NS_B" "$T_B")
say "FDB: $total entries ($n_a on $T_A); storm_control drops: $((st1 - st0)); B received $((brx1 - brx0)) frames"
bk stats | sed -n '/^bridge /,$p'
((total <= 64)) || fail "the FDB has $total entries, above fdb-limit 64"
((n_a >= 60)) || fail "$T_A has only $n_a entries: the flood should have filled the table"
learned || fail "the fair eviction took B's or C's entry: $(bk fdb show "$BR" | grep -v "$T_A")"
((st1 - st0 >= FLOOD / 4)) || fail "storm_control dropped only $((st1 - st0)) of $FLOOD flooded frames"
((brx1 - brx0 < FLOOD / 2)) || fail "B received $((brx1 - brx0)) frames: storm control did not limit the flood"
ip netns exec "$NS_C" ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null || fail "ping C -> B failed after the flood"
pass "table capped at 64, quiet ports kept, flood rate-limited"

daemon_alive || fail "briskd died"

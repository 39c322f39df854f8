#!/usr/bin/env bash
# Frames the kernel refuses to hand brisk on an AF_XDP port are named drops everywhere a drop
# is shown: `port` (dropped), `stats` (the reason's row), `--json stats` (per port and
# overall) and the metrics (brisk_port_drops_total{reason}, brisk_drops_total{reason}, and the
# socket's raw counters in brisk_port_xsk_total).
#
# One veth system port (AF_XDP, the default driver; XDP attached as BRISK_TEST_XDP_MODE says),
# its peer in namespace A. briskd is
# stopped (SIGSTOP): nobody empties the socket's RX ring or refills its FILL ring, so after
# the chunks it holds, every frame A sends finds no buffer (XSK rx_dropped and
# rx_fill_ring_empty: `xsk_no_buffer`). Then briskd continues. A sends N broadcast frames of a
# local ethertype (flooded to the bridge's internal port). Checks, exactly: received +
# xsk_no_buffer == N, both nonzero, the port's `dropped` grew by xsk_no_buffer, and the same
# figure in every view.
source "$(dirname "$0")/lib.sh" "$@"
need_scapy
need_netns
need_tool curl

MPORT=""
for _ in 1 2 3 4 5 6 7 8; do
  cand=$((20000 + RANDOM % 30000))
  if ! ss -Htln "sport = :$cand" | contains .; then MPORT=$cand; break; fi
done
[[ -n "$MPORT" ]] || fail "no free TCP port found"
URL="http://127.0.0.1:$MPORT/metrics"
# BRISK_TEST_XDP_MODE: briskd's --afxdp-xdp (auto: generic on this veth; native: the mode of
# taps and NICs).
MODE=${BRISK_TEST_XDP_MODE:-auto}
start_briskd --metrics "127.0.0.1:$MPORT" --afxdp-xdp "$MODE"

NS_A="${PFX}-a" H="${PFX}xa" N=1500
veth_to_ns "$NS_A" "$H" -
bk port add "$H" vlan 10 || fail "port add $H"
want=generic
[[ $MODE == native ]] && want=native
[[ $(port_json "$H" afxdp_mode) == $want/* ]] || fail "$H is not a $want AF_XDP port (--afxdp-xdp $MODE): $(bk --json port)"

cat >"$TMPD/send.py" <<'EOF'
# send.py <iface> <count>: broadcast frames of a local ethertype, 100 bytes each.
import sys
from scapy.all import Ether, Raw, conf, sendp
conf.verb = 0
frames = [Ether(src="02:00:00:00:77:01", dst="ff:ff:ff:ff:ff:ff", type=0x88b5) / Raw(b"x" * 86)
          for _ in range(int(sys.argv[2]))]
sendp(frames, iface=sys.argv[1])
EOF

json_stats() {  # <python expression over d (the --json stats object)>
  bk --json stats | "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
port_drop() {  # <reason>: the port's drops of that reason (--json stats)
  json_stats "[p for p in d['ports'] if p['port'] == '$H'][0]['drops']['$1']"
}

rx0=$(stat_of "$H" rx_frames) drop0=$(stat_of "$H" dropped)
check "briskd stopped while A sends $N frames"
kill -STOP "$BRISKD_PID"
send_rc=0
ip netns exec "$NS_A" /usr/bin/python3 "$TMPD/send.py" eth0 "$N" || send_rc=$?
kill -CONT "$BRISKD_PID"
[[ $send_rc -eq 0 ]] || fail "scapy send failed ($send_rc)"

# Everything brisk will receive is in its RX ring already: wait until the counts settle.
settled() {
  local rx lost
  rx=$(($(stat_of "$H" rx_frames) - rx0))
  lost=$(port_drop xsk_no_buffer)
  [[ $((rx + lost)) -eq $N ]]
}
wait_until 10 settled || true
rx=$(($(stat_of "$H" rx_frames) - rx0))
lost=$(port_drop xsk_no_buffer)
say "received $rx, xsk_no_buffer $lost, xsk: $(port_json "$H" xsk)"
[[ $rx -gt 0 ]] || fail "brisk received none of the frames"
[[ $lost -gt 0 ]] || fail "no frame counted xsk_no_buffer"
[[ $((rx + lost)) -eq $N ]] || fail "received $rx + xsk_no_buffer $lost != $N sent"
[[ $(port_drop xsk_rx_ring_full) -eq 0 && $(port_drop xsk_rx_refused) -eq 0 ]] ||
  fail "frames counted under another xsk reason: $(json_stats "d['drops']")"
pass "every frame received or counted xsk_no_buffer ($rx + $lost = $N)"

check "port, stats and metrics show the drop"
dropped=$(($(stat_of "$H" dropped) - drop0))
[[ $dropped -eq $lost ]] || fail "\`stats\`: the port's dropped grew by $dropped, want $lost"
port_dropped=$(bk port | table_rows | awk -F'|' -v p="$H" '$1 == p { print $9 }')
[[ $((port_dropped - drop0)) -eq $lost ]] || fail "\`port\` dropped column: $port_dropped"
bk stats | contains -E "^ *xsk_no_buffer +\| +$lost +\|" || fail "\`stats\` has no xsk_no_buffer row of $lost: $(bk stats)"
[[ $(json_stats "d['drops']['xsk_no_buffer']") -eq $lost ]] || fail "--json stats overall drops"
curl -s -m 5 "$URL" >"$TMPD/m" || fail "curl $URL"
metric() { awk -v k="$1" 'index($0, k " ") == 1 { print $2 }' "$TMPD/m"; }
[[ $(metric "brisk_port_drops_total{port=\"$H\",bridge=\"$BR\",reason=\"xsk_no_buffer\"}") == "$lost" ]] ||
  fail "metrics: $(grep xsk "$TMPD/m")"
[[ $(metric "brisk_drops_total{reason=\"xsk_no_buffer\"}") == "$lost" ]] || fail "metrics total: $(grep xsk "$TMPD/m")"
raw=$(metric "brisk_port_xsk_total{port=\"$H\",counter=\"rx_fill_ring_empty\"}")
[[ -n $raw && $raw -ge $lost ]] || fail "brisk_port_xsk_total rx_fill_ring_empty: '$raw'"
pass "port dropped, stats and metrics: xsk_no_buffer $lost"

check "after the drain nothing more is lost"
ip netns exec "$NS_A" /usr/bin/python3 "$TMPD/send.py" eth0 50
sleep 0.5
[[ $(port_drop xsk_no_buffer) -eq $lost ]] || fail "xsk_no_buffer grew while briskd ran"
pass "no drop while brisk polls"

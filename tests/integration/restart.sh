#!/usr/bin/env bash
# Restart and crash recovery: the state file (--state) replayed at start.
#   - taps A, B (VLAN 10) moved into namespaces with addresses, tap H with a host address
#     (`ip`), an alias tap, veth system ports C (AF_XDP) and D (AF_PACKET), a static FDB
#     entry, flood off on a port, bridge ageing and a second bridge
#   - ping across all of them; then `kill -9` briskd while C pings D
#   - restart with the same state file: `tap`, `bridge`, `port` (without counters), `fdb`
#     and `port security` list the same things; taps are back on the host with the same
#     names (TAP devices die with their process: moving them into namespaces again is the
#     user's job, as documented), H has its address again, the AF_XDP port reattached over
#     the XDP program and tc filter the dead briskd left behind (removed, not stacked: one
#     brisk filter on C's ingress afterwards), C's ping resumes, A <-> B <-> C works
#   - a system port whose device is gone at start is reported, kept in the state file and
#     restored by `state retry` once the device is back
#   - a corrupt state file is moved aside, briskd starts with the default bridge
source "$(dirname "$0")/lib.sh" "$@"
need_tool ping
need_netns

NS_A="${PFX}-a" NS_B="${PFX}-b" NS_C="${PFX}-c" NS_D="${PFX}-d"
IP_A=198.18.12.1 IP_B=198.18.12.2 IP_C=198.18.12.3 IP_D=198.18.12.4 IP_H=198.18.12.9
T_A="${PFX}ta" T_B="${PFX}tb" T_H="${PFX}th" T_L="${PFX}tl"
H_C="${PFX}vc" H_D="${PFX}vd"
BR2="${PFX}b2"
STATE="$TMPD/state.json"

# listings: what must be identical across a restart (the port table without its counters).
listings() {
  echo "== tap"; bk tap
  echo "== bridge"; bk bridge
  echo "== port"; bk port | awk -F'|' '{ print $1 "|" $2 "|" $3 "|" $4 "|" $5 }'
  echo "== fdb static"; bk fdb show | grep -E "static|^bridge" || true
  echo "== security"; bk port security
}

ping_ok() { ip netns exec "$1" ping -c 2 -W 2 "$2" >/dev/null 2>&1; }

start_briskd
contains "\"$BR\"" "$STATE" || fail "state file not written at start with bridge $BR"

check "configure taps, system ports, FDB, security, bridge settings"
bk tap create 10 name "$T_A" >/dev/null
bk tap create 10 name "$T_B" >/dev/null
bk tap create 10 name "$T_H" ip "$IP_H/24" >/dev/null
bk tap create LAN bridge "$BR2" name "$T_L" >/dev/null
veth_to_ns "$NS_C" "$H_C" "$IP_C/24"
veth_to_ns "$NS_D" "$H_D" "$IP_D/24"
bk port add "$H_C" vlan 10 driver afxdp >/dev/null
bk port add "$H_D" vlan 10 driver afpacket >/dev/null
bk bridge ageing "$BR" 200
bk fdb add "$BR" 10 02:00:00:00:12:99 "$H_D"
bk port flood "$T_H" off
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
[[ -s "$STATE" ]] || fail "no state file written after configuration commands"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["taps"]) == 4 and len(d["ports"]) == 2, d' "$STATE" ||
  fail "state file does not hold the 4 taps and 2 ports: $(cat "$STATE")"
pass "state file written: $(wc -c <"$STATE") bytes"

check "ping A <-> B (taps), A <-> C, C <-> D (system ports)"
ping_ok "$NS_A" "$IP_B" || fail "ping A -> B"
ping_ok "$NS_A" "$IP_C" || fail "ping A -> C"
ping_ok "$NS_C" "$IP_D" || fail "ping C -> D"
pass "all connected"

listings >"$TMPD/before"
cat "$TMPD/before"

check "kill -9 briskd while C pings D"
ip netns exec "$NS_C" ping -D -i 0.1 -w 40 "$IP_D" >"$TMPD/ping-cd" 2>&1 &
PING_PID=$!
track_pid "$PING_PID"
sleep 1.5
kill -9 "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
KILLED_AT=$(date +%s.%N)
sleep 1
! host_has_dev "$T_H" || fail "tap $T_H outlived briskd"
! ip -n "$NS_A" link show "$T_A" >/dev/null 2>&1 || fail "tap $T_A outlived briskd in $NS_A"
ip -d link show dev "$H_C" | contains "xdp" && say "the dead briskd left its XDP program on $H_C"
# brisk_tc_filters <dev>: brisk's tc programs (BRISK_TC_PROG_NAME) on the device's clsact ingress.
brisk_tc_filters() { tc filter show dev "$1" ingress 2>/dev/null | grep -c "brisk_tc_rx" || true; }
STALE_TC=$(brisk_tc_filters "$H_C")
say "brisk tc filters the dead briskd left on $H_C: $STALE_TC"
pass "briskd killed; its taps are gone"

check "restart with the same state file"
start_briskd
listings >"$TMPD/after"
if ! diff -u "$TMPD/before" "$TMPD/after"; then fail "listings differ after the restart"; fi
bk state
bk state | contains "^pending" && fail "entries pending after a clean replay"
host_has_dev "$T_A" && host_has_dev "$T_B" && host_has_dev "$T_H" && host_has_dev "$T_L" ||
  fail "taps not recreated on the host with their names"
ip -o addr show dev "$T_H" | contains "$IP_H/24" || fail "$T_H lost its address $IP_H/24"
bk port | table_rows | contains "^${H_C}|.*afxdp" || fail "$H_C not reattached with AF_XDP"
contains "detached the XDP/tc programs a previous briskd left on ${H_C}" "$TMPD/briskd.log" ||
  fail "no log line about the stale XDP program on $H_C"
# With the fast path on (the default) the port runs the tc program too: the dead daemon's
# filter must be gone, replaced by the new one, never stacked under it.
if [[ " ${BRISK_TEST_BRISKD_ARGS:-} " != *" --xdp-fastpath off "* ]]; then
  ((STALE_TC == 1)) || fail "the dead briskd left $STALE_TC brisk tc filters on $H_C (want 1: the fast path's)"
  n=$(brisk_tc_filters "$H_C")
  ((n == 1)) || fail "$n brisk tc filters on $H_C after the restart (want 1): $(tc filter show dev "$H_C" ingress)"
fi
pass "identical listings; taps recreated with names and addresses; AF_XDP reattached"

check "forwarding resumes: C's ping to D, and A <-> B <-> C after moving the taps back"
RESTARTED_AT=$(date +%s.%N)
sleep 2
kill -INT "$PING_PID" 2>/dev/null || true
wait "$PING_PID" 2>/dev/null || true
after=$(awk -v t="$RESTARTED_AT" -F'[][]' '/bytes from/ && $2 > t' "$TMPD/ping-cd" | wc -l)
before=$(awk -v t="$KILLED_AT" -F'[][]' '/bytes from/ && $2 < t' "$TMPD/ping-cd" | wc -l)
say "C -> D ping: $before replies before the kill, $after after the restart"
((before > 5)) || fail "C -> D ping had no traffic before the kill"
((after > 5)) || fail "C -> D ping did not resume after the restart: $(tail -5 "$TMPD/ping-cd")"
ns_add_tap "$NS_A" "$T_A" "$IP_A/24"
ns_add_tap "$NS_B" "$T_B" "$IP_B/24"
ping_ok "$NS_A" "$IP_B" || fail "ping A -> B after the restart"
ping_ok "$NS_B" "$IP_C" || fail "ping B -> C after the restart"
ping_ok "$NS_D" "$IP_A" || fail "ping D -> A after the restart"
pass "forwarding resumed"

check "a system port whose device is gone at start is reported and kept"
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
ip link del "$H_D"
start_briskd
bk state | tee "$TMPD/state-out"
contains "^pending ports ${H_D}: " "$TMPD/state-out" || fail "$H_D not reported pending"
contains "^pending fdb " "$TMPD/state-out" || fail "the static entry on $H_D not reported pending"
contains "cannot restore ports ${H_D}" "$TMPD/briskd.log" || fail "no log line about $H_D"
bk port | table_rows | contains "^${H_C}|" || fail "$H_C not restored"
bk tap create 11 name "${PFX}tx" >/dev/null  # a change: the state is written again
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); n=[p["name"] for p in d["ports"]]; assert sys.argv[2] in n, n' "$STATE" "$H_D" ||
  fail "$H_D dropped from the state file"
bk tap delete "${PFX}tx"
veth_to_ns "$NS_D" "$H_D" "$IP_D/24"
bk state retry
bk port | table_rows | contains "^${H_D}|.*afpacket" || fail "$H_D not restored by state retry"
bk fdb show | contains "02:00:00:00:12:99" || fail "static entry not restored by state retry"
ip -n "$NS_C" neigh flush all  # D's new veth has a new MAC
ping_ok "$NS_C" "$IP_D" || fail "ping C -> D after state retry"
pass "pending entry kept, then restored by state retry"

check "a corrupt state file is moved aside, not overwritten"
kill -TERM "$BRISKD_PID"
wait "$BRISKD_PID" 2>/dev/null || true
BRISKD_PID=""
echo '{"brisk_state": 1, "taps": [' >"$STATE"
start_briskd
aside=$(ls "$STATE".corrupt-* 2>/dev/null | head -1)
[[ -n "$aside" ]] || fail "corrupt state file not moved aside"
[[ "$(cat "$aside")" == '{"brisk_state": 1, "taps": [' ]] || fail "the moved file was changed"
contains "unusable" "$TMPD/briskd.log" || fail "no clear log line about the corrupt file"
bk state | contains "moved to" || fail "state does not report the corrupt file"
[[ -z "$(tap_names)" ]] || fail "taps restored from a corrupt file"
bk bridge | table_rows | contains "^${BR}|" || fail "default bridge missing"
pass "moved to $(basename "$aside"); started with the default bridge"

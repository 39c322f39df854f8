#!/usr/bin/env bash
# Names and VLAN ids that enter brisk are checked by one rule (control/validate.hpp), and what
# brisk prints shows control characters escaped:
#   - tap, vhost-user, bridge and port names that start with '-' (dhclient would read them as
#     options: `tap create ... dhcp`), or hold '/', ':', whitespace or control characters, or
#     are "."/"..", or are longer than 15 characters: each command exits 1 with one "E: " line,
#     nothing changes (listings, host interfaces), no dhclient is started
#   - an Open vSwitch database (Debian's ovs-vsctl and ovsdb-server, briskd --ovsdb) naming
#     such ports: each row gets an Interface error saying the name is invalid (ofport -1),
#     nothing is made in brisk or on the host, and briskd's log shows the names escaped
#   - VLAN 4095 (reserved) is refused by `fdb add`, `fdb del`, `fdb flush vlan`; 0 and 4094
#     are accepted
#   - a state file whose VLAN alias and tap name carry terminal escapes: the tap with the bad
#     name is not created (it stays pending, with the reason), and neither `tap`, `state` nor
#     `--json tap` prints a raw control character
# The names that dhclient would take as options are never given to a build that might start
# dhclient with them: they carry this test's prefix ("-${PFX}..."), which dhclient refuses.
source "$(dirname "$0")/lib.sh" "$@"
need_tool pgrep
need_ovsdb
ovsdb_start "$TMPD/ovs"

# The state file first: an alias and a tap name with terminal escapes (CSI "clear screen",
# OSC "set title"), a tap with a good name in the escaped alias, a static FDB entry.
ESC=$'\x1b'
BADALIAS="X${ESC}[2J"
BADTAP="${PFX}${ESC}]0;"
GOOD="${PFX}g"
"$PY" - "$TMPD/state.json" "$BR" "$BADALIAS" "$BADTAP" "$GOOD" <<'EOF'
import json, sys
path, br, alias, badtap, good = sys.argv[1:6]
json.dump({"brisk_state": 1,
           "aliases": [{"alias": alias, "vlan": 300}],
           "taps": [{"name": badtap, "bridge": br, "vlan": 10, "alias": ""},
                    {"name": good, "bridge": br, "vlan": 300, "alias": alias}]},
          open(path, "w"))
EOF
start_briskd --ovsdb "unix:$TMPD/ovs/db.sock"

check "names and state entries with terminal escapes are printed escaped"
bk tap >"$TMPD/tap.txt"
bk state >"$TMPD/state.txt"
bk --json tap >"$TMPD/tap.json"
bk --json state >"$TMPD/state.json.out"
cat "$TMPD/tap.txt" "$TMPD/state.txt"
for f in tap.txt state.txt tap.json state.json.out; do
  if LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d '\n' <"$TMPD/$f"); then
    fail "$f holds a raw control character: $(od -c "$TMPD/$f" | head -20)"
  fi
done
contains -F 'X\x1b[2J (300)' "$TMPD/tap.txt" || fail "the alias is not shown escaped in 'tap'"
contains -F "pending taps ${PFX}\\x1b]0;" "$TMPD/state.txt" || fail "the bad tap is not pending in 'state'"
contains "invalid tap name" "$TMPD/state.txt" || fail "'state' does not say why the tap is pending"
[[ $(tap_names) == "$GOOD" ]] || fail "taps are '$(tap_names)', want only $GOOD"
pass "escaped; the tap with escapes in its name stayed pending"

EXISTING="$GOOD"
snapshot() {
  {
    echo "== tap"
    bk tap
    echo "== bridge"
    bk bridge
    echo "== port"
    bk port | cut -d'|' -f1-5
    echo "== fdb"
    bk fdb
    echo "== host interfaces with this test's prefix in their name"
    ip -br link show | awk '{print $1}' | grep -F -- "$PFX" | sort
  } >"$1"
}
bk bridge ageing "$BR" 0 >/dev/null  # hub mode: nothing is learned, the listings stay put
snapshot "$TMPD/before"

# refused <words...>: the command exits 1 with exactly one "E: " line and no stdout.
refused() {
  local rc=0
  bk "$@" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
  say "  brisk $(printf '%q ' "$@")-> exit $rc: $(head -c 200 "$TMPD/err")"
  ((rc == 1)) || fail "'$(printf '%q ' "$@")' exited $rc, want 1"
  [[ $(wc -l <"$TMPD/err") -eq 1 ]] || fail "'$*' printed $(wc -l <"$TMPD/err") lines on stderr"
  contains "^E: " "$TMPD/err" || fail "'$*': stderr does not start with 'E: '"
  [[ ! -s "$TMPD/out" ]] || fail "'$*' printed on stdout: $(cat "$TMPD/out")"
  if LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d '\n' <"$TMPD/err"); then
    fail "'$(printf '%q ' "$@")': the error holds a raw control character"
  fi
}

check "names that are not interface names are refused everywhere a name enters"
BAD_NAMES=("-r${PFX}" "-x${PFX}" "-nw${PFX}" "${PFX}/a" "${PFX}:a" "${PFX} a" "${PFX}${ESC}[2J"
  "${PFX}"$'\t' "." ".." "${PFX}toolongname" "")
for n in "${BAD_NAMES[@]}"; do
  refused tap create 10 name "$n"
  [[ -n $n ]] && refused tap create 10 dhcp "$n"
  refused tap create 10 name "$n" dhcp
  refused tap create 10 bridge "$n"
  refused vhost create 10 socket "$TMPD/vh.sock" name "$n"
  refused bridge create "$n"
  refused port add "$n" vlan 10
done
pass "${#BAD_NAMES[@]} names refused by tap create, vhost create, bridge create and port add"

check "no dhclient was started"
if pgrep -P "$BRISKD_PID" >/dev/null; then fail "briskd has children: $(pgrep -a -P "$BRISKD_PID")"; fi
pass "no child process"

check "VLAN 4095 is reserved"
MAC=02:00:5e:00:53:41
refused fdb add "$BR" 4095 "$MAC" "$EXISTING"
refused fdb del "$BR" 4095 "$MAC"
refused fdb flush "$BR" vlan 4095
refused tap create 4095
contains "4095 is reserved" "$TMPD/err" || fail "the error does not say 4095 is reserved"
pass "refused"

check "listings and host interfaces are unchanged"
snapshot "$TMPD/after"
diff -u "$TMPD/before" "$TMPD/after" || fail "the refused commands changed something"
pass "unchanged"

check "VLANs 0 and 4094 are VLANs"
bk fdb add "$BR" 4094 "$MAC" "$EXISTING" || fail "fdb add vlan 4094"
bk fdb add "$BR" 0 "$MAC" "$EXISTING" || fail "fdb add vlan 0"
bk fdb del "$BR" 4094 "$MAC" || fail "fdb del vlan 4094"
pass "accepted"

check "Open vSwitch rows naming such ports: an error on each, nothing made, the log escaped"
vs() { timeout 30 "$VSCTL" --db="unix:$TMPD/ovs/db.sock" "$@"; }
vs add-br "${PFX}ob" || fail "ovs-vsctl add-br ${PFX}ob"
OVS_BAD=("-x${PFX}" "${PFX}${ESC}[2J" "${PFX}/a" "${PFX}toolongname")
for n in "${OVS_BAD[@]}"; do
  vs add-port "${PFX}ob" "$n" || fail "ovs-vsctl add-port $(printf '%q' "$n") did not return"
done
for n in "${OVS_BAD[@]}"; do
  e=$(vs get Interface "$n" error)
  say "  $(printf '%q' "$n"): error $e, ofport $(vs get Interface "$n" ofport)"
  contains "invalid" <<<"$e" || fail "$(printf '%q' "$n"): the error does not say the name is invalid: $e"
  [[ $(vs get Interface "$n" ofport) == -1 ]] || fail "$(printf '%q' "$n"): ofport is not -1"
  if bk --json port | "$PY" -c 'import json,sys; sys.exit(0 if any(p["port"] == sys.argv[1] for p in json.load(sys.stdin)) else 1)' "$n"; then
    fail "$(printf '%q' "$n") is a port in brisk"
  fi
done
for n in "${OVS_BAD[@]}"; do
  ! ip link show dev "$n" >/dev/null 2>&1 || fail "a device $(printf '%q' "$n") was made"
done
if LC_ALL=C grep -q $'\x1b' "$TMPD/briskd.log"; then fail "briskd's log holds a raw ESC: $(grep -a ovsdb "$TMPD/briskd.log" | od -c | head)"; fi
grep -a -F "ovsdb: interface ${PFX}\\x1b[2J" "$TMPD/briskd.log" >/dev/null || fail "no escaped log line for the ESC name: $(grep -a ovsdb "$TMPD/briskd.log")"
vs del-br "${PFX}ob"
pass "${#OVS_BAD[@]} rows in error, none realised, the log escaped"

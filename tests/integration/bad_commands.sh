#!/usr/bin/env bash
# shellcheck disable=SC2119  # helpers take optional arguments
# Bad commands are refused cleanly and change nothing:
#   - each exits 1, prints nothing on stdout and exactly one line "E: ..." on stderr
#   - the `tap`, `bridge` and `fdb` listings and the host's interfaces with the test's
#     prefix are identical before and after
#   - the daemon is still alive and serving, and a failed `tap create <alias>` did not use
#     up a VLAN (the next new alias still gets 101)
# The bridge runs in hub mode (ageing 0) with one static FDB entry so the listings are
# stable: nothing is learned from stray host frames.
source "$(dirname "$0")/lib.sh" "$@"

start_briskd

EXISTING="${PFX}x"
bk tap create 10 name "$EXISTING" >/dev/null || fail "tap create 10 name $EXISTING"
bk bridge ageing "$BR" 0 || fail "bridge ageing $BR 0"
bk fdb add "$BR" 10 02:00:5e:00:53:01 "$EXISTING" || fail "fdb add"
# A host interface briskd does not own (a persistent tap made by iproute2): briskd must refuse
# the name rather than attach to it.
FOREIGN="${PFX}f"
ip tuntap add dev "$FOREIGN" mode tap || fail "ip tuntap add $FOREIGN"

snapshot() {
  {
    echo "== tap"
    bk tap
    echo "== bridge"
    bk bridge
    echo "== bridge json"
    bk --json bridge
    echo "== fdb"
    bk fdb
    echo "== host interfaces (ip -br link)"
    ip -br link show | awk -v p="$PFX" 'index($1, p) == 1' | sort
  } >"$1"
}
snapshot "$TMPD/before"
say "state before:"
cat "$TMPD/before"

BAD=(
  "tap create 5000"
  "tap create 4095"
  "tap create abc!"
  "tap create 10 name $EXISTING"
  "tap create 10 name $BR"
  "tap create 10 name waytoolonginterfacename"
  "tap create 10 name all"
  "tap create 10 name $FOREIGN"
  "tap create 10 bridge $FOREIGN"
  "tap create 10 bridge $EXISTING"
  "tap create 10 name a/b"
  "tap create 10 ip 300.1.1.1/24"
  "tap create 10 ip 198.18.30.1/33"
  "tap create 10 ip 198.18.30.1"
  "tap create 10 bridge ${PFX}nb ip 300.1.1.1/24"
  "tap create 10 bridge ${PFX}nb name waytoolonginterfacename"
  "tap create NEWALIAS name waytoolonginterfacename"
  "tap create NEWALIAS ip 300.1.1.1/24"
  "tap create 10 frob"
  "tap create"
  "tap frob"
  "tap delete nosuch"
  "tap delete 99"
  "tap delete $BR"
  "tap delete"
  "bridge frob"
  "bridge destroy nosuch"
  "bridge ageing nosuch 10"
  "bridge ageing $BR -1"
  "bridge ageing $BR abc"
  "bridge ageing $BR 1000001"
  "bridge ageing $BR"
  "fdb add $BR 10 zz:zz $EXISTING"
  "fdb add $BR 10 zz:zz 1"
  "fdb add $BR 10 ff:ff:ff:ff:ff:ff $EXISTING"
  "fdb add $BR 10 02:00:5e:00:53:02 nosuchport"
  "fdb add $BR 9999 02:00:5e:00:53:02 $EXISTING"
  "fdb add nosuch 10 02:00:5e:00:53:02 $EXISTING"
  "fdb del $BR 10 02:00:5e:00:53:99"
  "fdb show nosuch"
  "fdb flush nosuch"
  "fdb flush $BR port nosuch"
  "fdb flush $BR vlan abc"
  "port delete $BR"
  "port delete nosuch"
  "stats nosuch"
  "nuke now"
  "frobnicate"
)

n_ok=0
for cmd in "${BAD[@]}"; do
  check "bad command: brisk $cmd"
  read -ra words <<<"$cmd"
  rc=0
  bk "${words[@]}" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
  lines=$(wc -l <"$TMPD/err")
  first=$(head -n 1 "$TMPD/err")
  say "  exit $rc, stderr: $(tr '\n' '~' <"$TMPD/err")"
  ((rc == 1)) || fail "'$cmd' exited $rc, want 1 (stdout: $(cat "$TMPD/out"))"
  ((lines == 1)) || fail "'$cmd' printed $lines lines on stderr, want exactly 1"
  [[ "$first" == "E: "* ]] || fail "'$cmd' stderr does not start with 'E: ': $first"
  [[ ! -s "$TMPD/out" ]] || fail "'$cmd' printed on stdout: $(cat "$TMPD/out")"
  daemon_alive || fail "briskd died after '$cmd'"
  pass "'$cmd' refused: $first"
  n_ok=$((n_ok + 1))
done

check "the daemon is still alive and serving"
daemon_alive || fail "briskd died"
bk help >/dev/null || fail "briskd does not answer help"
pass "daemon alive"

check "brisk --help lists the commands the daemon serves (one table)"
bk help | sed 1d >"$TMPD/daemon_help"
"$BRISK_BIN" --help | sed -n '/^commands/,/^$/p' | sed '1d;$d' >"$TMPD/client_help"
[[ -s "$TMPD/client_help" ]] || fail "brisk --help lists no commands"
diff -u "$TMPD/daemon_help" "$TMPD/client_help" || fail "brisk --help and brisk help differ (diff above)"
pass "$(wc -l <"$TMPD/client_help") lines, the same in both"

check "tap, bridge, fdb listings and host interfaces are unchanged"
snapshot "$TMPD/after"
if ! diff -u "$TMPD/before" "$TMPD/after"; then
  fail "state changed by bad commands (diff above)"
fi
pass "state unchanged after $n_ok bad commands"

check "failed alias creations did not use up VLAN 101"
t=$(bk tap create FRESH) || fail "tap create FRESH"
bk tap
row=$(bk tap | table_rows | awk -F'|' -v t="$t" '$2 == t { print $3 }')
[[ "$row" == "FRESH (101)" ]] || fail "new alias FRESH got '$row', want 'FRESH (101)'"
pass "new alias still gets VLAN 101"

ip link del "$FOREIGN" || fail "ip link del $FOREIGN"

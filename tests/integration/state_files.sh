#!/usr/bin/env bash
# State files briskd must survive and files it must not write through.
#   - a state file nested 100,000 deep: briskd starts, the file is moved aside with the reason
#     logged; the same for a file larger than the limit (16 MiB) and a FIFO at the path
#   - sections and entries of the wrong type: briskd starts, the log names the section
#   - a symlink planted at the old fixed temporary name (FILE.tmp) and at the lock file: the
#     victims are unchanged, changes are still saved
source "$(dirname "$0")/lib.sh" "$@"
[[ -n $PY ]] || skip "python3 is missing"

STATE="$TMPD/state.json"
stop() {
  kill -TERM "$BRISKD_PID"
  wait "$BRISKD_PID" 2>/dev/null || true
  BRISKD_PID=""
}
aside_of() { ls "$STATE".corrupt-* 2>/dev/null | head -1; }

# unusable <reason> : briskd (started on the prepared file) moved it aside for <reason>.
unusable() {
  local reason=$1 aside
  start_briskd
  aside=$(aside_of)
  [[ -n $aside ]] || fail "the file was not moved aside"
  contains "unusable ($reason" "$TMPD/briskd.log" || fail "no log line saying '$reason'"
  bk state | contains "moved to $aside" || fail "state does not report the moved file"
  bk bridge | table_rows | contains "^${BR}|" || fail "default bridge missing"
  bk tap create 10 name "${PFX}x" >/dev/null || fail "tap create after the start"
  $PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$STATE" || fail "no new state file"
  stop
  say "moved to $(basename "$aside")"
}

check "a state file nested 100,000 deep is moved aside and briskd starts"
$PY -c 'import sys; n=100000; open(sys.argv[1],"w").write("{\"brisk_state\": 1, \"taps\": " + "["*n + "]"*n + "}")' "$STATE"
cp "$STATE" "$TMPD/deep.orig"
unusable "nested more than 32 deep"
cmp -s "$(aside_of)" "$TMPD/deep.orig" || fail "the moved file was changed"
rm -f "$STATE".corrupt-*
pass "deep file moved aside"

check "a state file larger than 16 MiB is moved aside"
echo '{"brisk_state": 1}' >"$STATE"
truncate -s 17M "$STATE"
unusable "larger than 16 MiB"
rm -f "$STATE".corrupt-*
pass "huge file moved aside"

check "a FIFO at the state file's path is moved aside (briskd does not block on it)"
rm -f "$STATE"
mkfifo "$STATE"
unusable "not a regular file"
rm -f "$STATE".corrupt-*
pass "FIFO moved aside"

check "sections and entries of the wrong type: briskd starts and the log names the section"
cat >"$STATE" <<EOF
{"brisk_state": 1, "taps": {"name": "${PFX}t1"}, "fdb": [5, null, {"vlan": "x"}],
 "bridges": [{"name": "$BR"}], "mirrors": "all", "ports": [[]]}
EOF
start_briskd
contains "section 'taps' is an object, not a list" "$TMPD/briskd.log" || fail "the taps section is not named"
contains "section 'mirrors' is a string, not a list" "$TMPD/briskd.log" || fail "the mirrors section is not named"
contains "cannot restore fdb ?/?/?" "$TMPD/briskd.log" || fail "the bad fdb entries are not reported"
bk state | contains "^pending fdb" || fail "the bad fdb entries are not pending"
bk bridge | table_rows | contains "^${BR}|" || fail "default bridge missing"
stop
pass "started; named in the log"

check "a symlink planted at FILE.tmp is never written through"
rm -f "$STATE" "$STATE".lock
echo "precious" >"$TMPD/victim"
ln -s "$TMPD/victim" "$STATE.tmp"
start_briskd
bk tap create 10 name "${PFX}s1" >/dev/null
bk tap create 11 name "${PFX}s2" >/dev/null
[[ $(cat "$TMPD/victim") == precious ]] || fail "the victim was overwritten: $(head -c 200 "$TMPD/victim")"
[[ -f $STATE && ! -L $STATE ]] || fail "$STATE is not a regular file"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [t["name"] for t in d["taps"]] == sys.argv[2:], d' \
  "$STATE" "${PFX}s1" "${PFX}s2" || fail "the changes were not saved: $(cat "$STATE")"
[[ -z $(ls "$STATE".tmp-* 2>/dev/null) ]] || fail "temporary files left: $(ls "$STATE".tmp-*)"
stop
pass "victim unchanged; state saved"

check "a symlink planted at FILE.lock is not followed"
rm -f "$STATE.lock"
ln -s "$TMPD/nologin" "$STATE.lock"
if "$BRISKD_BIN" --socket "$TMPD/other.sock" --state "$STATE" --default-bridge "${PFX}o" \
  --tap-prefix "${PFX}o" >"$TMPD/lock.log" 2>&1; then
  fail "briskd started with a symlink as its lock file"
fi
[[ ! -e $TMPD/nologin ]] || fail "the lock was created through the symlink"
contains "cannot open $STATE.lock" "$TMPD/lock.log" || fail "no clear error: $(cat "$TMPD/lock.log")"
pass "refused to start: $(grep -m1 "cannot open" "$TMPD/lock.log")"

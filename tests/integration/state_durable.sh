#!/usr/bin/env bash
# Durable commands: a command answers success only once its change is in the state file.
#   - state directory made immutable (chattr +i): `tap create` is refused with one `E:` line,
#     the tap does not exist, `tap delete` and `fdb add` are refused and leave things as they
#     were; after kill -9 and a restart the configuration is what was acknowledged; writable
#     again, the same command succeeds and survives kill -9
#   - the same with the state file on a full tmpfs (this test's own, filled up)
#   - kill -9 at random moments while a client runs a sequence of tap create / fdb add /
#     bridge ageing / tap delete: after each restart every acknowledged command's effect is
#     in the restored configuration (the one command in flight may or may not be)
source "$(dirname "$0")/lib.sh" "$@"
[[ -n $PY ]] || skip "python3 is missing"
need_tool chattr findmnt

A="${PFX}a" B="${PFX}b" C="${PFX}c" D="${PFX}d"

crash() {
  kill -9 "$BRISKD_PID"
  wait "$BRISKD_PID" 2>/dev/null || true
  BRISKD_PID=""
}
stop() {
  kill -TERM "$BRISKD_PID"
  wait "$BRISKD_PID" 2>/dev/null || true
  BRISKD_PID=""
}
sorted_taps() { tap_names | sort | tr '\n' ' '; }

# unwritable_case <state file> <how to break> <how to repair> <label>
unwritable_case() {
  local state=$1 break_it=$2 repair=$3 label=$4
  start_briskd --state "$state"
  bk tap create 10 name "$A" >/dev/null
  bk fdb add "$BR" 10 02:00:00:00:0a:01 "$A"
  eval "$break_it"
  check "$label: a change that cannot be written is refused and undone"
  refused "tap create" tap create 11 name "$B"
  ! host_has_dev "$B" || fail "tap $B exists after the refused tap create"
  [[ $(sorted_taps) == "$A " ]] || fail "taps after the refused tap create: $(sorted_taps)"
  refused "fdb add" fdb add "$BR" 10 02:00:00:00:0a:02 "$A"
  bk fdb show "$BR" | contains "02:00:00:00:0a:02" && fail "the refused static entry is in the FDB"
  refused "tap delete" tap delete "$A"
  [[ $(sorted_taps) == "$A " ]] || fail "taps after the refused tap delete: $(sorted_taps)"
  host_has_dev "$A" || fail "tap $A gone after the refused tap delete"
  bk fdb show "$BR" | contains "02:00:00:00:0a:01" || fail "the static entry on $A is gone"
  bk tap >/dev/null || fail "a listing fails while the state cannot be written"
  bk state | contains "^last write failed: " || fail "state does not report the failed write"
  pass "refused with E:, nothing changed"

  check "$label: after kill -9 the restored configuration is what was acknowledged"
  crash
  start_briskd --state "$state"
  [[ $(sorted_taps) == "$A " ]] || fail "restored taps: $(sorted_taps), want $A"
  bk fdb show "$BR" | contains "02:00:00:00:0a:01" || fail "the acknowledged static entry is lost"
  bk fdb show "$BR" | contains "02:00:00:00:0a:02" && fail "a refused static entry was restored"
  pass "restored $A and its static entry, nothing refused"

  check "$label: writable again, the command succeeds and survives kill -9"
  eval "$repair"
  bk tap create 11 name "$B" >/dev/null || fail "tap create after the repair"
  crash
  start_briskd --state "$state"
  [[ $(sorted_taps) == "$A $B " ]] || fail "restored taps: $(sorted_taps), want $A $B"
  pass "tap $B created and restored"
  stop
}

# ------------------------------------------------------------------ an immutable directory

mkdir "$TMPD/st"
if chattr +i "$TMPD/st" 2>/dev/null; then
  chattr -i "$TMPD/st"
  unwritable_case "$TMPD/st/state.json" 'chattr +i "$TMPD/st"' 'chattr -i "$TMPD/st"' "immutable directory"
else
  say "chattr +i is not supported on $TMPD's file system: the immutable directory case is skipped"
fi

# ------------------------------------------------------------------ a full disk

mkdir "$TMPD/fs"
mount -t tmpfs -o size=256k,mode=0700 "${PFX}state" "$TMPD/fs" || skip "cannot mount a tmpfs"
fill() { dd if=/dev/zero of="$TMPD/fs/filler" bs=4k >/dev/null 2>&1 || true; }
unwritable_case "$TMPD/fs/state.json" fill 'rm -f "$TMPD/fs/filler"' "full disk"

# ------------------------------------------------------------------ kill -9 at random moments

cat >"$TMPD/ops.py" <<'EOF'
# ops.py gen <round> <bridge> <prefix>: the commands of a round, one a line.
# ops.py check <round> <bridge> <prefix> <log> <taps.json> <fdb.json> <bridge.json>: exit 0 when
# the restored configuration holds every acknowledged command's effect; the one command in
# flight (tried, not acknowledged) may have been applied or not.
import json, random, sys

def ops(rnd, br, pfx):
    rng = random.Random(rnd)
    out, live, n = [], [], 0
    for i in range(400):
        k = i % 3
        if i % 7 == 6 and len(live) > 2:
            t = live.pop(rng.randrange(len(live) - 1))
            out.append(("delete", t))
        elif k == 0 or not live:
            t = "%sr%di%d" % (pfx, rnd, i)
            live.append(t)
            out.append(("create", t, 10 + i % 50))
        elif k == 1:
            out.append(("fdb", live[-1], "02:00:00:%02x:%02x:%02x" % (rnd, i >> 8, i & 255)))
        else:
            out.append(("ageing", 10 + i))
    return out

def words(op, br):
    if op[0] == "create": return "tap create %d name %s" % (op[2], op[1])
    if op[0] == "delete": return "tap delete %s" % op[1]
    if op[0] == "fdb": return "fdb add %s %%VLAN%% %s %s" % (br, op[2], op[1])
    return "bridge ageing %s %d" % (br, op[1])

def model(seq):
    taps, fdb, ageing = {}, {}, 300
    for op in seq:
        if op[0] == "create": taps[op[1]] = op[2]
        elif op[0] == "delete":
            taps.pop(op[1], None)
            fdb = {m: t for m, t in fdb.items() if t != op[1]}
        elif op[0] == "fdb": fdb[op[2]] = op[1]
        else: ageing = op[1]
    return taps, fdb, ageing

def main():
    mode, rnd, br, pfx = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seq = ops(rnd, br, pfx)
    if mode == "gen":
        vlan = {}
        for op in seq:
            if op[0] == "create": vlan[op[1]] = op[2]
            print(words(op, br).replace("%VLAN%", str(vlan.get(op[1], 10))))
        return 0
    log, taps_j, fdb_j, br_j = sys.argv[5:9]
    acked = sum(1 for l in open(log) if l.startswith("OK"))
    tried = sum(1 for l in open(log) if l.startswith("TRY"))
    taps = {t["tap"]: t["vlan"] for t in json.load(open(taps_j))}
    fdb = {e["mac"]: e["port"] for e in json.load(open(fdb_j)) if e["static"]}
    ageing = [b for b in json.load(open(br_j)) if b["bridge"] == br][0]["config"]["ageing"]
    got = (taps, fdb, ageing)
    want = [model(seq[:acked])]
    if tried > acked: want.append(model(seq[:acked + 1]))
    if got in want:
        print("%d commands acknowledged, %d in flight; restored %d taps, %d static entries, ageing %d"
              % (acked, tried - acked, len(taps), len(fdb), ageing))
        return 0
    w = want[0]
    print("restored configuration differs from the %d acknowledged commands" % acked)
    print("  taps missing: %s" % sorted(set(w[0].items()) - set(taps.items())))
    print("  taps extra:   %s" % sorted(set(taps.items()) - set(w[0].items())))
    print("  fdb missing:  %s" % sorted(set(w[1].items()) - set(fdb.items())))
    print("  fdb extra:    %s" % sorted(set(fdb.items()) - set(w[1].items())))
    print("  ageing %d, want %d" % (ageing, w[2]))
    if tried > acked: print("  in flight: %s" % (seq[acked],))
    return 1

sys.exit(main())
EOF

# run_ops <round>: run the round's commands until one fails (briskd killed), logging
# "TRY <command>" before and "OK" after each acknowledged one.
run_ops() {
  local cmd
  # shellcheck disable=SC2086  # the words of each command
  while read -r cmd; do
    echo "TRY $cmd" >>"$TMPD/ops.$1.log"
    bk $cmd >/dev/null 2>&1 || return 0
    echo "OK" >>"$TMPD/ops.$1.log"
  done < <("$PY" "$TMPD/ops.py" gen "$1" "$BR" "$PFX")
}

check "kill -9 at random moments: every acknowledged command is restored"
STATE="$TMPD/random.json"
start_briskd --state "$STATE"
for round in 1 2 3 4; do
  : >"$TMPD/ops.$round.log"
  run_ops "$round" &
  OPS_PID=$!
  track_pid "$OPS_PID"
  sleep "$("$PY" -c 'import random; print(round(random.uniform(0.3, 2.5), 2))')"
  crash
  wait "$OPS_PID" || true
  start_briskd --state "$STATE"
  bk --json tap >"$TMPD/taps.json"
  bk --json fdb show "$BR" >"$TMPD/fdb.json"
  bk --json bridge >"$TMPD/bridge.json"
  "$PY" "$TMPD/ops.py" check "$round" "$BR" "$PFX" "$TMPD/ops.$round.log" "$TMPD/taps.json" \
    "$TMPD/fdb.json" "$TMPD/bridge.json" || fail "round $round: acknowledged commands lost"
  bk state | contains "^pending" && fail "round $round: pending entries after the restart: $(bk state)"
  bk tap delete all >/dev/null
  bk bridge ageing "$BR" 300
done
pass "every acknowledged command restored in 4 rounds"

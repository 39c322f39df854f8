#!/usr/bin/env bash
# `tools/dev.sh run` attaches briskd to an Open vSwitch database. Checked through
# `tools/dev.sh start` (run's last step, without installing and building), with the paths moved
# into this test's temp directory (BRISK_RUN_DIR, BRISK_STATE_DIR, BRISK_OVS_DB_SOCK) and this
# build's briskd (BRISKD):
#   - no server at the Open vSwitch socket: dev.sh makes the database from Open vSwitch's
#     schema, starts a detached ovsdb-server on <run>/db.sock (pidfile next to it) and briskd
#     --ovsdb on it; Debian's ovs-vsctl works right away, with --db and with OVS_RUNDIR
#     (add-br returns: briskd wrote cur_cfg), and brisk has the bridge
#   - run again after briskd stopped: the same server (pid) and database; the bridge comes back
#   - a second start while briskd runs fails and leaves the first one working
#   - the server killed outright (stale socket and pidfile): the next start serves the same
#     database again from a new ovsdb-server
#   - a server already at the Open vSwitch socket is used (no server of dev.sh's started);
#     with Open vSwitch's own ovs-vswitchd running on it (its pidfile next to the socket),
#     dev.sh serves its own database instead and says why
#   - no schema: a clear error, exit 1, nothing started
#   - `tools/dev.sh stop-db` stops dev.sh's server; the database file stays
source "$(dirname "$0")/lib.sh" "$@"
need_ovsdb
need_tool ovs-vswitchd ovsdb-client
need_netns
DEVSH=$(cd "$(dirname "$0")/../.." && pwd)/tools/dev.sh
[[ -x $DEVSH ]] || fail "no $DEVSH"

RUN="$TMPD/run" LIB="$TMPD/lib" OVSD="$TMPD/ovs"
export BRISK_RUN_DIR="$RUN" BRISK_STATE_DIR="$LIB" BRISK_OVS_DB_SOCK="$OVSD/db.sock" BRISKD="$BRISKD_BIN"
track_pidfile "$RUN/ovsdb-server.pid" ovsdb-server
B="${PFX}db"

# devsh_start: `tools/dev.sh start` with this test's briskd options, in the background: after
# its exec the PID is briskd's. Output in $TMPD/briskd.log (the cleanup reads it).
devsh_start() {
  "$DEVSH" start --socket "$SOCK" --state "$TMPD/state.json" --default-bridge "$BR" --tap-prefix "$TP" \
    >"$TMPD/briskd.log" 2>&1 &
  BRISKD_PID=$!
  for _ in $(seq 1 100); do
    if [[ -S $SOCK ]] && bk bridge >/dev/null 2>&1; then return 0; fi
    daemon_alive || fail "dev.sh start exited: $(cat "$TMPD/briskd.log")"
    sleep 0.1
  done
  fail "briskd did not answer within 10 s: $(cat "$TMPD/briskd.log")"
}
stop_briskd() {
  kill -TERM "$BRISKD_PID"
  wait "$BRISKD_PID" || fail "briskd exited with an error on SIGTERM"
  BRISKD_PID=""
}
server_pid() { cat "$RUN/ovsdb-server.pid" 2>/dev/null || true; }
# vs <socket> <args>: Debian's ovs-vsctl on that database; waits for briskd's cur_cfg.
vs() {
  local sock=$1
  shift
  timeout 30 "$VSCTL" --db="unix:$sock" "$@"
}
has_bridge() { bk bridge | table_rows | contains "^$1|"; }

check "dev.sh start: a database from the schema, a detached ovsdb-server, briskd attached"
devsh_start
contains -F "made the database $LIB/conf.db" "$TMPD/briskd.log" || fail "no database made: $(cat "$TMPD/briskd.log")"
[[ $(ovsdb-tool db-name "$LIB/conf.db") == Open_vSwitch ]] || fail "$LIB/conf.db is not an Open_vSwitch database"
PID1=$(server_pid)
[[ -n $PID1 && $(cat "/proc/$PID1/comm") == ovsdb-server ]] || fail "no ovsdb-server in $RUN/ovsdb-server.pid"
[[ -S $RUN/db.sock ]] || fail "no socket $RUN/db.sock"
wait_until 10 grep -q "ovsdb: connected" "$TMPD/briskd.log" || fail "briskd did not connect: $(cat "$TMPD/briskd.log")"
vs "$RUN/db.sock" show >"$TMPD/show" || fail "ovs-vsctl show failed"
vs "$RUN/db.sock" add-br "$B" || fail "ovs-vsctl add-br did not return (briskd never wrote cur_cfg)"
has_bridge "$B" || fail "brisk lacks bridge $B: $(bk bridge)"
OVS_RUNDIR="$RUN" timeout 30 "$VSCTL" show >"$TMPD/show" || fail "ovs-vsctl with OVS_RUNDIR=$RUN failed"
contains "Bridge $B" "$TMPD/show" || fail "ovs-vsctl show lacks $B: $(cat "$TMPD/show")"
contains -F "ovs-vsctl --db=unix:$RUN/db.sock show" "$TMPD/briskd.log" || fail "dev.sh does not say how to reach the database"
pass "ovsdb-server pid $PID1 on $RUN/db.sock; ovs-vsctl add-br $B realised by briskd"

check "run again after briskd stopped: the same server and database"
stop_briskd
[[ $(server_pid) == "$PID1" ]] && kill -0 "$PID1" || fail "the ovsdb-server went with briskd"
devsh_start
contains -F "ovsdb-server (pid $PID1) already serves" "$TMPD/briskd.log" || fail "not reused: $(cat "$TMPD/briskd.log")"
wait_until 10 has_bridge "$B" || fail "bridge $B not back from the database"
rc=0
"$DEVSH" start --socket "$SOCK" --no-state --default-bridge "${PFX}b2" --tap-prefix "${PFX}u" \
  >"$TMPD/second.log" 2>&1 || rc=$?
((rc != 0)) || fail "a second briskd on the same socket started"
say "second start: exit $rc: $(tail -1 "$TMPD/second.log")"
vs "$RUN/db.sock" set Bridge "$B" other_config:mac-aging-time=77 || fail "ovs-vsctl after the second start"
bk bridge | table_rows | contains "^$B|.*ageing=77" || fail "first briskd no longer follows: $(bk bridge)"
pass "server pid $PID1 reused, bridge back, a second start refused"

check "the server killed outright: the next start serves the same database again"
stop_briskd
kill -9 "$PID1"
wait_until 5 bash -c "! kill -0 $PID1 2>/dev/null" || fail "ovsdb-server $PID1 did not die"
[[ -S $RUN/db.sock && -e $RUN/ovsdb-server.pid ]] || fail "expected a stale socket and pidfile"
devsh_start
PID2=$(server_pid)
[[ -n $PID2 && $PID2 != "$PID1" ]] || fail "no new ovsdb-server: $(cat "$TMPD/briskd.log")"
wait_until 10 has_bridge "$B" || fail "bridge $B not back after the server's restart"
vs "$RUN/db.sock" br-exists "$B" || fail "the database lost $B"
pass "new server pid $PID2 on the kept database"

check "a server at the Open vSwitch socket is used; not while ovs-vswitchd runs on it"
stop_briskd
ovsdb_start "$OVSD"
timeout 10 "$VSCTL" --db="unix:$OVSD/db.sock" --no-wait init
devsh_start
contains -F "using the Open vSwitch database served at unix:$OVSD/db.sock" "$TMPD/briskd.log" ||
  fail "the existing server was not used: $(cat "$TMPD/briskd.log")"
vs "$OVSD/db.sock" add-br "${PFX}ov" || fail "add-br on the Open vSwitch socket did not return"
wait_until 5 has_bridge "${PFX}ov" || fail "brisk lacks ${PFX}ov"
has_bridge "$B" && fail "bridge $B of dev.sh's database is still in brisk"
[[ $(server_pid) == "$PID2" ]] || fail "dev.sh started another server"
stop_briskd
# Open vSwitch's own switch on that database (userspace datapath, in a namespace of the test's).
ns_create "${PFX}-o"
ip netns exec "${PFX}-o" ovs-vswitchd "unix:$OVSD/db.sock" --pidfile="$OVSD/ovs-vswitchd.pid" \
  --unixctl="$OVSD/ovs-vswitchd.ctl" --log-file="$OVSD/ovs-vswitchd.log" --no-chdir >/dev/null 2>&1 &
VSWITCHD_PID=$!
track_pid "$VSWITCHD_PID"
wait_until 10 test -s "$OVSD/ovs-vswitchd.pid" || fail "ovs-vswitchd did not start"
devsh_start
contains -F "ovs-vswitchd (pid $VSWITCHD_PID) runs on the database at $OVSD/db.sock" "$TMPD/briskd.log" ||
  fail "dev.sh did not name ovs-vswitchd: $(cat "$TMPD/briskd.log")"
wait_until 10 has_bridge "$B" || fail "not on dev.sh's own database (no $B)"
[[ $(server_pid) == "$PID2" ]] || fail "dev.sh started another server"
stop_briskd
pass "the existing server used; with ovs-vswitchd on it, dev.sh's own database"

check "no schema: a clear error and nothing started"
rc=0
BRISK_STATE_DIR="$TMPD/lib2" BRISK_RUN_DIR="$TMPD/run2" BRISK_OVS_SCHEMA="$TMPD/nosuch.ovsschema" \
  "$DEVSH" start --socket "$TMPD/b2.sock" --no-state --default-bridge "${PFX}b3" >"$TMPD/noschema.log" 2>&1 || rc=$?
((rc == 1)) || fail "exit $rc without a schema: $(cat "$TMPD/noschema.log")"
contains -F "no Open vSwitch schema at $TMPD/nosuch.ovsschema" "$TMPD/noschema.log" || fail "unclear: $(cat "$TMPD/noschema.log")"
[[ ! -e $TMPD/run2/db.sock && ! -e $TMPD/b2.sock ]] || fail "something started without a schema"
pass "$(cat "$TMPD/noschema.log")"

check "dev.sh stop-db stops its server; the database stays"
"$DEVSH" stop-db >"$TMPD/stop.log" 2>&1 || fail "stop-db failed: $(cat "$TMPD/stop.log")"
! kill -0 "$PID2" 2>/dev/null || fail "ovsdb-server $PID2 still runs"
[[ -s $LIB/conf.db ]] || fail "the database went"
"$DEVSH" stop-db | contains "no ovsdb-server of dev.sh runs" || fail "stop-db twice"
pass "$(cat "$TMPD/stop.log")"

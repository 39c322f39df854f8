#!/usr/bin/env bash
# Where the control socket may live (issue 20, items 9 and 10; control/socket_path.hpp):
#   - under umask 000 briskd makes the socket's directory 0750 (and the socket 0660), so another
#     user (nobody) can neither remove the socket nor put a fake in its place
#   - briskd refuses --socket in a directory others can write (0777), and brisk refuses to talk
#     to a socket there, or to one in a directory owned by another user (nobody's fake)
#   - at the --socket path briskd replaces only a stale socket: a regular file, a directory, a
#     symlink or a live socket of another program makes it refuse to start, left untouched
source "$(dirname "$0")/lib.sh" "$@"
[[ -n $PY ]] || skip "python3 is needed for the fake servers"

# A fake briskd: answers every connection {"ok": true, "text": "FAKE"} and notes that it was
# contacted in <path>.contacted. Prints "listening" once bound; "refused: <error>" if it cannot.
FAKE_PY='
import json, os, socket, sys
path = sys.argv[1]
try:
    if sys.argv[2:] == ["replace"]:
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
except OSError as e:
    print("refused:", e, flush=True)
    sys.exit(0)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    open(path + ".contacted", "w").close()
    try:
        c.sendall(json.dumps({"ok": True, "text": "FAKE", "data": None}).encode() + b"\n")
    except OSError:
        pass  # a prober that went away at once
    c.close()
'

# start_fake <path> [as-nobody] [replace]: a fake server in the background; waits until it is
# bound (or refused) and prints its first line.
start_fake() {
  local path=$1 who=${2:-root} mode=${3:-} out="$TMPD/fake.$RANDOM"
  local run=("$PY" -c "$FAKE_PY" "$path" ${mode:+"$mode"})
  [[ $who == nobody ]] && run=(setpriv --reuid=nobody --regid=nogroup --clear-groups "${run[@]}")
  "${run[@]}" >"$out" 2>&1 &
  track_pid $!
  wait_until 5 test -s "$out" || fail "the fake server did not start: $(cat "$out")"
  head -n 1 "$out"
}

# briskd_refuses <socket path> <expected message part>: briskd exits 1 at start saying so.
briskd_refuses() {
  local path=$1 want=$2 rc=0
  timeout 10 "$BRISKD_BIN" --socket "$path" --no-state --default-bridge "${PFX}x" --tap-prefix "${PFX}y" \
    >"$TMPD/refused.log" 2>&1 || rc=$?
  if [[ $rc -ne 1 ]] || ! contains -F -- "$want" "$TMPD/refused.log"; then
    fail_soft "briskd --socket $path: exit $rc (want 1 saying '$want'): $(grep -v '^briskd\[' "$TMPD/refused.log" || true)"
    return 0
  fi
  say "briskd --socket $path: $(grep "^briskd: " "$TMPD/refused.log")"
}

# check "what": a new group of checks; passed "what": PASS if none of them failed since.
FAILS_AT=0
check() {
  FAILS_AT=$SOFT_FAILS
  echo "[$TEST_NAME] CHECK: $*"
}
passed() {
  if [[ $SOFT_FAILS -eq $FAILS_AT ]]; then pass "$*"; fi
}

HAVE_NOBODY=false
if id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null && command -v setpriv >/dev/null &&
  setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
  HAVE_NOBODY=true
fi
# Other users may look into this test's directory (the scenarios need them to reach it).
chmod 0755 "$TMPD"

# ------------------------------------------------------------------ item 9: umask 000
check "briskd under umask 000: socket directory 0750, socket 0660"
mkdir -m 0755 "$TMPD/pub"
SOCK="$TMPD/pub/run/brisk.sock"
umask 000
start_briskd
umask 022
[[ $(stat -c %a "$TMPD/pub/run") == 750 ]] || fail_soft "socket directory mode $(stat -c %a "$TMPD/pub/run"), want 750"
[[ $(stat -c %a "$SOCK") == 660 ]] || fail_soft "socket mode $(stat -c %a "$SOCK"), want 660"
passed "directory $(stat -c %a "$TMPD/pub/run"), socket $(stat -c %a "$SOCK")"

if $HAVE_NOBODY; then
  check "nobody cannot replace the socket with a fake"
  got=$(start_fake "$SOCK" nobody replace)
  [[ $got == refused:* ]] || fail_soft "nobody's fake: $got"
  if [[ $(bk tap 2>&1) == *FAKE* ]]; then fail_soft "root's brisk talked to nobody's fake"; fi
  [[ -S $SOCK ]] && bk bridge >/dev/null || fail_soft "the daemon's socket is gone"
  passed "nobody's fake: $got"
else
  say "SKIP part: no user nobody (or no setpriv) for the replacement scenario"
fi

# ------------------------------------------------------------------ item 9: 0777 directories
check "a socket directory others can write"
mkdir "$TMPD/open"
chmod 0777 "$TMPD/open"
briskd_refuses "$TMPD/open/brisk.sock" "socket directory $TMPD/open is writable by group or others (mode 0777)"
[[ ! -e $TMPD/open/brisk.sock ]] || fail_soft "briskd made a socket in the open directory"
got=$(start_fake "$TMPD/open/fake.sock")
[[ $got == listening ]] || fail "root's fake in the open directory: $got"
rc=0
out=$("$BRISK_BIN" --socket "$TMPD/open/fake.sock" tap 2>&1) || rc=$?
if [[ $rc -ne 2 || $out != "E: refusing to talk to briskd at $TMPD/open/fake.sock: socket directory $TMPD/open is writable by group or others (mode 0777)" ]]; then
  fail_soft "brisk and a socket in a 0777 directory: exit $rc: $out"
fi
[[ ! -e $TMPD/open/fake.sock.contacted ]] || fail_soft "brisk talked to the fake"
passed "brisk: $out"

if $HAVE_NOBODY; then
  check "a socket in a directory of another user"
  mkdir -m 0700 "$TMPD/nob"
  chown nobody:nogroup "$TMPD/nob"
  got=$(start_fake "$TMPD/nob/fake.sock" nobody)
  [[ $got == listening ]] || fail "nobody's fake in its own directory: $got"
  rc=0
  out=$("$BRISK_BIN" --socket "$TMPD/nob/fake.sock" tap 2>&1) || rc=$?
  [[ $rc -eq 2 && $out == *"socket directory $TMPD/nob is owned by uid $(id -u nobody), not by root or uid 0"* ]] ||
    fail_soft "brisk and nobody's socket: exit $rc: $out"
  [[ ! -e $TMPD/nob/fake.sock.contacted ]] || fail_soft "brisk talked to nobody's fake"
  passed "brisk: $out"
fi

# ------------------------------------------------------------------ item 10: what is at the path
check "briskd replaces only a stale socket"
echo precious >"$TMPD/file.sock"
briskd_refuses "$TMPD/file.sock" "$TMPD/file.sock exists and is a regular file, not a socket; briskd leaves it alone"
[[ $(cat "$TMPD/file.sock" 2>/dev/null) == precious ]] || fail_soft "the regular file was changed or removed"

mkdir "$TMPD/dir.sock"
touch "$TMPD/dir.sock/keep"
briskd_refuses "$TMPD/dir.sock" "$TMPD/dir.sock exists and is a directory, not a socket"
[[ -f $TMPD/dir.sock/keep ]] || fail_soft "the directory was changed"

echo victim >"$TMPD/victim"
ln -s "$TMPD/victim" "$TMPD/link.sock"
briskd_refuses "$TMPD/link.sock" "$TMPD/link.sock exists and is a symbolic link, not a socket"
[[ -L $TMPD/link.sock && $(cat "$TMPD/victim") == victim ]] || fail_soft "the symlink or its target was changed"

got=$(start_fake "$TMPD/live.sock")
[[ $got == listening ]] || fail "the other program's socket: $got"
briskd_refuses "$TMPD/live.sock" "another program (another briskd?) answers on $TMPD/live.sock"
"$PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.recv(100).decode().strip())' \
  "$TMPD/live.sock" | contains FAKE || fail_soft "the other program's socket no longer answers"
passed "a regular file, a directory, a symlink and a live socket are refused and left as they were"

# A stale socket (bound, nobody listening) is replaced.
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMPD/stale.sock"
[[ -S $TMPD/stale.sock ]] || fail "no stale socket made"
"$BRISKD_BIN" --socket "$TMPD/stale.sock" --no-state --default-bridge "${PFX}s" --tap-prefix "${PFX}z" \
  >"$TMPD/stale.log" 2>&1 &
STALE_PID=$!
track_pid "$STALE_PID"
wait_until 5 bash -c "'$BRISK_BIN' --socket '$TMPD/stale.sock' bridge 2>/dev/null | grep -q '^${PFX}s '" ||
  fail "briskd did not replace the stale socket: $(cat "$TMPD/stale.log")"
kill "$STALE_PID"
wait "$STALE_PID" || fail "briskd on the replaced stale socket exited $?"
passed "a stale socket is replaced"

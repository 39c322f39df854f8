#!/usr/bin/env bash
# Capture files are written only where the client names and may write:
#   - a symlink at the path to a victim file: refused (also with `overwrite`), victim unchanged
#   - an existing file: refused without `overwrite`; with it a regular file of the caller's is
#     replaced by the capture
#   - a client that is not root (nobody): the file is created with its identity, only in a
#     directory it may write, and it cannot overwrite root's file
source "$(dirname "$0")/lib.sh" "$@"
need_tool tcpdump setpriv
start_briskd

T=$(bk tap create 10) || fail "tap create"
CAP="$TMPD/cap"
mkdir "$CAP"

check "a symlink at the capture path is refused; the victim is unchanged"
echo "precious victim" >"$TMPD/victim"
ln -s "$TMPD/victim" "$CAP/link.pcap"
refused "symlink" capture pcap tap "$T" "$CAP/link.pcap"
refused "symlink, overwrite" capture pcap tap "$T" "$CAP/link.pcap" overwrite
refused "bridge capture to a symlink" capture pcap bridge "$BR" "$CAP/link.pcap" overwrite
ln -s "$TMPD/created-through-link" "$CAP/dangling.pcap"
refused "dangling symlink" capture pcap tap "$T" "$CAP/dangling.pcap"
[[ $(cat "$TMPD/victim") == "precious victim" ]] || fail "the victim was changed"
[[ ! -e $TMPD/created-through-link ]] || fail "a file was created through the dangling symlink"
[[ -z $(bk capture | table_rows) ]] || fail "a refused capture is listed"
pass "refused; victim unchanged"

check "an existing file is refused without overwrite, replaced with it"
echo "an earlier capture" >"$CAP/old.pcap"
refused "existing file" capture pcap tap "$T" "$CAP/old.pcap"
[[ $(cat "$CAP/old.pcap") == "an earlier capture" ]] || fail "the existing file was changed"
bk capture pcap tap "$T" "$CAP/old.pcap" overwrite >/dev/null || fail "capture with overwrite"
bk clear capture >/dev/null
tcpdump -r "$CAP/old.pcap" >/dev/null 2>&1 || fail "the overwritten file is not a pcap file"
mkfifo "$CAP/fifo.pcap"
refused "FIFO, overwrite" capture pcap tap "$T" "$CAP/fifo.pcap" overwrite
pass "refused, then overwritten with a pcap file"

check "a new file is created for the client, 0600"
bk capture pcap tap "$T" "$CAP/new.pcap" snaplen 128 >/dev/null || fail "capture to a new file"
bk clear capture >/dev/null
[[ $(stat -c %a "$CAP/new.pcap") == 600 ]] || fail "mode $(stat -c %a "$CAP/new.pcap"), want 600"
pass "created"

check "a client that is not root writes only where it may, as itself"
# The test's own directory and socket, opened to nobody for this check only.
chmod 711 "$TMPD"
chmod 666 "$SOCK"
NOBODY=$(id -u nobody) NOGROUP=$(id -g nobody)
mkdir "$TMPD/theirs"
chown "$NOBODY:$NOGROUP" "$TMPD/theirs"
as_nobody() { setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$BRISK_BIN" --socket "$SOCK" "$@"; }
as_nobody capture pcap tap "$T" "$TMPD/theirs/n.pcap" >/dev/null || fail "nobody's capture in its own directory"
as_nobody clear capture >/dev/null
[[ $(stat -c %u:%g "$TMPD/theirs/n.pcap") == "$NOBODY:$NOGROUP" ]] ||
  fail "the capture file belongs to $(stat -c %u:%g "$TMPD/theirs/n.pcap"), not to nobody"
if out=$(as_nobody capture pcap tap "$T" "$CAP/n.pcap" 2>&1); then fail "nobody wrote into root's directory: $out"; fi
[[ $out == *"Permission denied"* ]] || fail "want Permission denied, got: $out"
[[ ! -e $CAP/n.pcap ]] || fail "a file was created in root's directory"
echo "root's file" >"$TMPD/theirs/root.pcap"
chmod 666 "$TMPD/theirs/root.pcap"
if out=$(as_nobody capture pcap tap "$T" "$TMPD/theirs/root.pcap" overwrite 2>&1); then
  fail "nobody overwrote root's file: $out"
fi
[[ $out == *"belongs to uid 0"* ]] || fail "want 'belongs to uid 0', got: $out"
[[ $(cat "$TMPD/theirs/root.pcap") == "root's file" ]] || fail "root's file was changed"
chmod 700 "$TMPD"
pass "own directory only, as nobody; root's file untouched"
daemon_alive || fail "briskd died"

#!/usr/bin/env bash
# Installs like a system service (docs/install.md):
#   - `cmake --install <build> --prefix /usr` into a temporary DESTDIR puts briskd in sbin/,
#     brisk in bin/, the ovs-ofctl front end in libexec/brisk/ (never bin/ovs-*, and no
#     ovs-vsctl: Open vSwitch's own drives briskd --ovsdb),
#     brisk_xdp.o in <libdir>/brisk/bpf, the unit (ExecStart=/usr/sbin/briskd) and the docs
#   - the INSTALLED briskd (BRISK_BPF_DIR unset, --no-state) finds brisk_xdp.o in the DESTDIR
#     through its install-layout lookup (the compiled-in /usr/... path does not exist there,
#     the build tree is not next to it); the installed client creates and lists a tap, attaches
#     a veth with the AF_XDP driver (XDP program on the device), and `brisk --help` works;
#     the installed ovs-ofctl front end answers
#   - `cpack -G DEB` builds a .deb with a Depends line (libbpf1, libstdc++6), no maintainer
#     scripts, no Conflicts/Replaces, and no file at a path an installed Open vSwitch package
#     owns (/usr merged: /lib/x and /usr/lib/x are the same path)
# The build directory is the directory of $1 (build/briskd). Layout other than the default
# GNUInstallDirs one (sbin, bin, libexec, share/doc) is not expected; <libdir> is read from
# the build's cache.
source "$(dirname "$0")/lib.sh" "$@"
need_tool dpkg dpkg-deb dpkg-shlibdeps

BUILD=$(cd "$(dirname "$BRISKD_BIN")" && pwd)
CACHE="$BUILD/CMakeCache.txt"
[[ -f $CACHE ]] || fail "no CMakeCache.txt in $BUILD (the directory of $BRISKD_BIN)"
# cache_var <name>: a value of the build's CMake cache.
cache_var() { sed -n "s/^$1:[A-Z]*=//p" "$CACHE"; }
CMAKE=$(cache_var CMAKE_COMMAND)
CPACK=$(cache_var CMAKE_CPACK_COMMAND)
CONFIG=$(cache_var CMAKE_BUILD_TYPE)
LIBDIR=$(cache_var CMAKE_INSTALL_LIBDIR)
SRC=$(cache_var CMAKE_HOME_DIRECTORY)
[[ -x $CMAKE && -x $CPACK && -n $LIBDIR && -d $SRC ]] ||
  fail "cannot read cmake, cpack, CMAKE_INSTALL_LIBDIR and the source directory from $CACHE"
[[ $LIBDIR != /* ]] || skip "CMAKE_INSTALL_LIBDIR is absolute ($LIBDIR): not a relocatable layout"

# ------------------------------------------------------------------ cmake --install
check "cmake --install $BUILD --prefix /usr into a temporary DESTDIR"
STAGE=$(mktemp -d "$TMPD/destdir.XXXXXX")  # inside $TMPD: the EXIT trap removes it
DESTDIR="$STAGE" "$CMAKE" --install "$BUILD" --prefix /usr --config "${CONFIG:-RelWithDebInfo}" \
  >"$TMPD/install.log" 2>&1 || fail "cmake --install failed: $(tail -20 "$TMPD/install.log")"
BPFDIR="/usr/$LIBDIR/brisk/bpf"
EXPECTED=(
  /usr/sbin/briskd /usr/bin/brisk /usr/bin/brisk-bench
  /usr/libexec/brisk/ovs-ofctl "$BPFDIR/brisk_xdp.o" "$BPFDIR/brisk_bench.o"
  /usr/lib/systemd/system/briskd.service /usr/share/doc/brisk/README.md)
for f in "$SRC"/docs/*.md; do EXPECTED+=("/usr/share/doc/brisk/${f##*/}"); done
for f in "${EXPECTED[@]}"; do
  [[ -f $STAGE$f ]] || fail "not installed: $f"
done
for f in /usr/sbin/briskd /usr/bin/brisk /usr/bin/brisk-bench /usr/libexec/brisk/ovs-ofctl; do
  [[ -x $STAGE$f ]] || fail "not executable: $f"
done
for f in ovs-vsctl ovs-ofctl; do
  [[ ! -e $STAGE/usr/bin/$f && ! -e $STAGE/usr/sbin/$f ]] || fail "$f installed under Open vSwitch's name in bin/"
done
[[ ! -e $STAGE/usr/libexec/brisk/ovs-vsctl ]] || fail "an ovs-vsctl of brisk's is installed"
(cd "$STAGE" && find . -type f | sort) >"$TMPD/installed"
say "installed $(wc -l <"$TMPD/installed") files: $(tr '\n' ' ' <"$TMPD/installed")"
UNIT="$STAGE/usr/lib/systemd/system/briskd.service"
contains -x 'ExecStart=/usr/sbin/briskd .*' "$UNIT" || fail "unit's ExecStart is not /usr/sbin/briskd: $(grep ExecStart "$UNIT")"
contains -x 'Documentation=file:/usr/share/doc/brisk/commands.md.*' "$UNIT" || fail "unit's Documentation: $(grep Documentation "$UNIT")"
if grep -v '^#' "$UNIT" | contains '@'; then fail "unit has unexpanded @...@: $(grep -v '^#' "$UNIT" | grep '@')"; fi
pass "binaries, $BPFDIR/brisk_xdp.o, unit (ExecStart=/usr/sbin/briskd) and docs installed"

# ------------------------------------------------------------------ the installed programs
check "the installed briskd finds its XDP program in the DESTDIR, with no help"
BRISKD_BIN="$STAGE/usr/sbin/briskd"
BRISK_BIN="$STAGE/usr/bin/brisk"
unset BRISK_BPF_DIR
"$BRISK_BIN" --help >"$TMPD/help" || fail "installed brisk --help failed"
contains '^usage: brisk ' "$TMPD/help" || fail "brisk --help: $(head -3 "$TMPD/help")"
"$BRISKD_BIN" --version | contains '^briskd ' || fail "installed briskd --version failed"
start_briskd --no-state
contains "XDP program $STAGE$BPFDIR/brisk_xdp.o\$" "$TMPD/briskd.log" ||
  fail "briskd did not report $STAGE$BPFDIR/brisk_xdp.o: $(cat "$TMPD/briskd.log")"
if contains 'cannot find BPF object' "$TMPD/briskd.log"; then fail "briskd missed a BPF object: $(cat "$TMPD/briskd.log")"; fi
pass "$(grep -o 'XDP program .*' "$TMPD/briskd.log")"

check "the installed client creates and lists a tap"
bk tap create 10 || fail "tap create 10"
tap_names | contains -x "${TP}0" || fail "${TP}0 not listed: $(bk tap)"
host_has_dev "${TP}0" || fail "no device ${TP}0"
pass "tap ${TP}0 (VLAN 10) created and listed"

check "a veth attached with the AF_XDP driver gets brisk's XDP program"
ip link add "${PFX}xa" type veth peer name "${PFX}xb"
ip link set "${PFX}xa" up
ip link set "${PFX}xb" up
bk port add "${PFX}xa" vlan 10 driver afxdp || fail "port add ${PFX}xa driver afxdp"
bk port | table_rows | contains "^${PFX}xa|.*afxdp" || fail "${PFX}xa not listed with driver afxdp: $(bk port)"
ip -d link show dev "${PFX}xa" | contains "xdp" || fail "no XDP program on ${PFX}xa"
bk port delete "${PFX}xa" || fail "port delete ${PFX}xa"
# The worker lets go of the port at its next quiescent point; the program goes with it.
wait_until 5 bash -c "! ip -d link show dev '${PFX}xa' | grep -q xdp" || fail "XDP program left on ${PFX}xa"
ip link del "${PFX}xa"
[[ ! -e $TMPD/state.json ]] || fail "briskd --no-state wrote a state file"
pass "AF_XDP port added and removed with the installed brisk_xdp.o"

check "the installed ovs-ofctl front end talks to the installed briskd"
BRISK_SOCKET="$SOCK" "$STAGE/usr/libexec/brisk/ovs-ofctl" add-flow "$BR" dl_type=0x0806,actions=local,normal ||
  fail "ovs-ofctl add-flow on $BR failed"
BRISK_SOCKET="$SOCK" "$STAGE/usr/libexec/brisk/ovs-ofctl" show "$BR" >"$TMPD/ofctl-show" || fail "ovs-ofctl show failed"
contains -F "LOCAL($BR)" "$TMPD/ofctl-show" || fail "ovs-ofctl show lacks $BR: $(cat "$TMPD/ofctl-show")"
pass "ovs-ofctl: $(head -1 "$TMPD/ofctl-show")"

check "the installed brisk-bench finds brisk_bench.o in the DESTDIR and measures the bridge"
"$STAGE/usr/bin/brisk-bench" --prefix "${PFX}b" --switches bridge --tests fps --sinks xdp --runs 1 \
  --duration 0.3 --warmup 0.1 >"$TMPD/bench.out" 2>&1 || fail "installed brisk-bench: $(cat "$TMPD/bench.out")"
contains '^bridge ' "$TMPD/bench.out" || fail "no bridge row: $(cat "$TMPD/bench.out")"
if ip netns list | contains "^${PFX}b-"; then fail "brisk-bench left namespaces behind"; fi
pass "installed brisk-bench: $(grep -m1 '^bridge ' "$TMPD/bench.out")"

# ------------------------------------------------------------------ cpack -G DEB
check "cpack -G DEB: Depends, no maintainer scripts, nothing Open vSwitch owns"
"$CPACK" -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMPD/pkg" >"$TMPD/cpack.log" 2>&1 ||
  fail "cpack failed: $(tail -20 "$TMPD/cpack.log")"
DEBS=("$TMPD"/pkg/brisk_*.deb)
[[ ${#DEBS[@]} -eq 1 && -f ${DEBS[0]} ]] || fail "expected one brisk_*.deb in $TMPD/pkg: $(ls "$TMPD/pkg")"
DEB=${DEBS[0]}
dpkg-deb -I "$DEB" >"$TMPD/info"
depends=$(dpkg-deb -f "$DEB" Depends)
say "Depends: $depends"
for lib in libbpf1 libstdc++6 libc6; do
  [[ $depends == *"$lib "* || $depends == *"$lib," || $depends == *"$lib" ]] || fail "Depends lacks $lib"
done
for field in Conflicts Replaces Breaks Provides Pre-Depends; do
  [[ -z $(dpkg-deb -f "$DEB" "$field") ]] || fail "the package declares $field: $(dpkg-deb -f "$DEB" "$field")"
done
dpkg-deb -e "$DEB" "$TMPD/control"
for script in preinst postinst prerm postrm config triggers; do
  [[ ! -e $TMPD/control/$script ]] || fail "the package has a $script: $(cat "$TMPD/control/$script")"
done
say "control members: $(ls "$TMPD/control" | tr '\n' ' ')"

# canonical: one path a line, /bin /sbin /lib* folded into /usr (merged /usr).
canonical() { sed -E 's#^\./#/#; s#/$##; s#^/(bin|sbin|lib[^/]*)(/|$)#/usr/\1\2#' | sort -u; }
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | canonical >"$TMPD/deb-files"
contains -x /usr/sbin/briskd "$TMPD/deb-files" || fail "the package lacks /usr/sbin/briskd: $(cat "$TMPD/deb-files")"
contains -x "$BPFDIR/brisk_xdp.o" "$TMPD/deb-files" || fail "the package lacks $BPFDIR/brisk_xdp.o"
ovs_pkgs=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'openvswitch*' 2>/dev/null | awk '$1 == "ii" {print $2}')
if [[ -z $ovs_pkgs ]]; then
  say "no Open vSwitch package installed: no file list to compare with"
else
  # shellcheck disable=SC2086
  dpkg -L $ovs_pkgs | canonical >"$TMPD/ovs-files"
  comm -12 "$TMPD/deb-files" "$TMPD/ovs-files" >"$TMPD/clash"
  [[ ! -s $TMPD/clash ]] || fail "the package ships paths Open vSwitch owns: $(cat "$TMPD/clash")"
  say "compared $(wc -l <"$TMPD/deb-files") files with $(wc -l <"$TMPD/ovs-files") paths of $(echo $ovs_pkgs)"
fi
pass "$(basename "$DEB"): Depends set, no maintainer scripts, no path of $(echo ${ovs_pkgs:-Open vSwitch})"

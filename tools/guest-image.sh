#!/usr/bin/env bash
# A tiny Linux guest for QEMU, from Debian packages, without installing anything into /boot.
#
#   tools/guest-image.sh fetch <cache dir>
#       Makes sure <cache dir> holds vmlinuz, busybox (static) and the virtio-net modules
#       (modules/*.ko, in load order in modules/order) of Debian's current amd64 kernel
#       (the package linux-image-amd64 depends on). Missing pieces are fetched with
#       `apt-get download` (only the Debian mirror is needed; `apt-get update` is run once if
#       apt has no package lists) and unpacked with `dpkg -x`; only what the guest needs is
#       kept (~10 MiB), the .debs and the rest of the kernel tree are deleted. Nothing is
#       installed. A second call with a complete cache does nothing (offline).
#   tools/guest-image.sh initramfs <cache dir> <init script> <out.cpio> [<program>...]
#       An uncompressed newc initramfs: busybox (applets installed as links in /bin at boot by
#       the init script), the modules in /lib/modules, and <init script> as /init. Built with
#       busybox's own cpio, so no cpio package is needed.
#       Each <program> (a name on $PATH or a path: a host binary from a Debian package, e.g.
#       iperf3, ethtool) goes into /usr/bin with the shared libraries and the dynamic loader
#       `ldd` lists for it, at the paths `ldd` prints (the Debian loader searches them without
#       an ld.so.cache). The guest kernel must be able to run the host's binaries: Debian's
#       amd64 kernel runs those of the same Debian release.
#
# The guest's init script loads the modules with `insmod` in the order of /lib/modules/order
# (the Debian kernel has virtio_pci and virtio_net as modules; modules the kernel has built in
# are left out).
set -euo pipefail

# The modules of a virtio-net guest, dependencies first (modinfo -F depends of each).
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         failover net_failover virtio_net)

die() { echo "E: guest-image: $*" >&2; exit 1; }

complete() {
  local c=$1
  [[ -s $c/vmlinuz && -x $c/busybox && -s $c/modules/order && -s $c/VERSION ]]
}

fetch() {
  local c=$1
  mkdir -p "$c"
  c=$(realpath "$c")
  if complete "$c"; then return 0; fi
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "needs apt-get and dpkg (Debian)"
  local kpkg
  kpkg_of() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
  kpkg=$(kpkg_of)
  if [[ -z $kpkg ]]; then
    echo "guest-image: apt knows no linux-image-amd64; running apt-get update" >&2
    apt-get update -q >&2 || die "apt-get update failed"
    kpkg=$(kpkg_of)
  fi
  [[ -n $kpkg ]] || die "cannot resolve the kernel package that linux-image-amd64 depends on"
  local work
  work=$(mktemp -d "$c/fetch.XXXXXX")
  # apt's _apt user must be able to write the download directory.
  chmod 755 "$work"
  chown _apt "$work" 2>/dev/null || true
  echo "guest-image: downloading $kpkg and busybox-static into $c" >&2
  (cd "$work" && apt-get download -q "$kpkg" busybox-static >&2) ||
    { rm -rf "$work"; die "apt-get download $kpkg busybox-static failed (needs the Debian mirror)"; }
  mkdir "$work/x"
  dpkg -x "$work"/linux-image-*.deb "$work/x"
  dpkg -x "$work"/busybox-static_*.deb "$work/x"
  local kver mdir
  kver=$(basename "$(ls -d "$work"/x/lib/modules/*/ | head -n 1)")
  mdir=$work/x/lib/modules/$kver
  [[ -s $work/x/boot/vmlinuz-$kver ]] || { rm -rf "$work"; die "no vmlinuz-$kver in $kpkg"; }
  mkdir -p "$work/out/modules"
  cp "$work/x/boot/vmlinuz-$kver" "$work/out/vmlinuz"
  cp "$work/x/bin/busybox" "$work/out/busybox"
  local m f
  : >"$work/out/modules/order"
  for m in "${MODULES[@]}"; do
    f=$(find "$mdir/kernel" -name "$m.ko" | head -n 1)
    if [[ -n $f ]]; then
      cp "$f" "$work/out/modules/"
      echo "$m" >>"$work/out/modules/order"
    elif grep -q "/$m.ko\$" "$mdir/modules.builtin"; then
      :  # built in
    else
      rm -rf "$work"
      die "module $m is neither in $kpkg nor built into its kernel (compressed modules are not handled)"
    fi
  done
  echo "$kpkg $kver" >"$work/out/VERSION"
  rm -rf "$c/vmlinuz" "$c/busybox" "$c/modules" "$c/VERSION"
  mv "$work/out/vmlinuz" "$work/out/busybox" "$work/out/modules" "$c/"
  mv "$work/out/VERSION" "$c/VERSION"  # last: marks the cache complete
  rm -rf "$work"
  echo "guest-image: cached $(cat "$c/VERSION") in $c" >&2
}

# add_program <root> <program>: the program into <root>/usr/bin, its libraries and loader at
# the paths ldd lists (files, not the symlinks: cp -L).
add_program() {
  local r=$1 prog path libs lib
  prog=$2
  path=$(command -v "$prog") || die "no program $prog on this host"
  path=$(realpath "$path")
  mkdir -p "$r/usr/bin"
  cp -L "$path" "$r/usr/bin/$(basename "$prog")"
  if ! libs=$(ldd "$path" 2>&1); then
    # A static program: nothing more to copy.
    grep -q "not a dynamic executable" <<<"$libs" && return 0
    die "ldd $path failed: $libs"
  fi
  if grep -q "not found" <<<"$libs"; then die "$prog needs a library this host lacks: $libs"; fi
  # "libx.so.1 => /lib/.../libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)";
  # linux-vdso has no file.
  for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs"); do
    [[ -e $r$lib ]] && continue
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib" || die "copying $lib (for $prog) failed"
  done
}

initramfs() {
  local c=$1 init=$2 out=$3
  shift 3
  complete "$c" || die "cache $c is incomplete (run: $0 fetch $c)"
  local r p
  r=$(mktemp -d)
  mkdir -p "$r"/{bin,sbin,dev,proc,sys,tmp,lib/modules}
  cp "$c/busybox" "$r/bin/busybox"
  cp "$c"/modules/* "$r/lib/modules/"
  cp "$init" "$r/init"
  chmod 755 "$r/init"
  for p in "$@"; do
    (add_program "$r" "$p") || { rm -rf "$r"; die "adding $p to the initramfs failed"; }
  done
  (cd "$r" && find . | "$c/busybox" cpio -o -H newc 2>/dev/null) >"$out" ||
    { rm -rf "$r"; die "building $out failed"; }
  rm -rf "$r"
}

case "${1:-}" in
  fetch) [[ $# -eq 2 ]] || die "usage: $0 fetch <cache dir>"; fetch "$2" ;;
  initramfs)
    [[ $# -ge 4 ]] || die "usage: $0 initramfs <cache dir> <init> <out.cpio> [<program>...]"
    shift
    initramfs "$@"
    ;;
  *) die "usage: $0 fetch <cache dir> | initramfs <cache dir> <init script> <out.cpio> [<program>...]" ;;
esac

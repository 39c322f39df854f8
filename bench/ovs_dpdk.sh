# Open vSwitch with DPDK as a reference switch for the vhost-user benchmarks (sourced by
# bench/vhost_pps.sh and bench/vhost_tcp.sh). Debian's openvswitch-switch-dpdk: its
# ovs-vswitchd-dpdk binary, run directly, from a private directory (database, sockets, logs:
# OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR point there), so a system Open vSwitch is
# never touched; its EAL runs --in-memory with its own file prefix.
#
#   ovs_dpdk_start <dir> <file prefix> [other_config:key=value...]
#       a fresh database in <dir> from the schema, ovsdb-server on unix:<dir>/db.sock, then
#       ovs-vswitchd-dpdk with dpdk-init=true, dpdk-socket-mem=512 and the given settings
#       (e.g. other_config:pmd-cpu-mask=0x1, other_config:userspace-tso-enable=true: read at
#       start, so given here). Sets OVS_PIDS (ovsdb-server, ovs-vswitchd; the caller stops them
#       by PID) and OVS_SWITCH_PID. Needs 256 free 2 MiB hugepages for the socket memory.
#   ovs_vsctl <args...>   Open vSwitch's own ovs-vsctl against that database
#   ovs_dpdk_netdev_busy  true when a device ovs-netdev exists: another Open vSwitch userspace
#                         datapath runs on this host, and a second one would take its device
#   ovs_dpdk_cleanup <bridge>  remove the persistent taps Open vSwitch made (the bridge's
#                         internal port, and ovs-netdev when this run made it)
OVS_VSWITCHD=${OVS_VSWITCHD:-/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk}
OVS_SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
OVS_ENV=() OVS_PIDS=() OVS_SWITCH_PID="" OVS_DIR="" OVS_MADE_NETDEV=0

ovs_dpdk_available() { [[ -x $OVS_VSWITCHD && -r $OVS_SCHEMA ]]; }
ovs_dpdk_netdev_busy() { [[ -e /sys/class/net/ovs-netdev ]]; }
ovs_vsctl() { env "${OVS_ENV[@]}" ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=30 "$@"; }

ovs_dpdk_start() {
  local d=$1 prefix=$2
  shift 2
  OVS_DIR=$d OVS_PIDS=()
  rm -rf "$d"
  mkdir -p "$d"
  OVS_ENV=(OVS_RUNDIR="$d" OVS_DBDIR="$d" OVS_LOGDIR="$d" OVS_SYSCONFDIR="$d")
  env "${OVS_ENV[@]}" ovsdb-tool create "$d/conf.db" "$OVS_SCHEMA"
  # env execs the daemon, so $! is the daemon's own PID.
  env "${OVS_ENV[@]}" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
    --unixctl="$d/ovsdb-server.ctl" --log-file="$d/ovsdb-server.log" >"$d/ovsdb-server.out" 2>&1 &
  OVS_PIDS+=($!)
  for _ in $(seq 100); do [[ -S $d/db.sock ]] && break; sleep 0.05; done
  ovs_vsctl --no-wait init
  ovs_vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-socket-mem=512 \
    other_config:dpdk-extra="--in-memory --no-pci --no-telemetry --file-prefix=$prefix" "$@"
  OVS_MADE_NETDEV=1  # from here on, an ovs-netdev device is the one this ovs-vswitchd makes
  env "${OVS_ENV[@]}" "$OVS_VSWITCHD" "unix:$d/db.sock" --unixctl="$d/ovs-vswitchd.ctl" \
    --log-file="$d/ovs-vswitchd.log" >"$d/ovs-vswitchd.out" 2>&1 &
  OVS_SWITCH_PID=$!
  OVS_PIDS+=($!)
}

ovs_dpdk_cleanup() {
  ip link del "$1" 2>/dev/null || true
  if ((OVS_MADE_NETDEV)); then ip link del ovs-netdev 2>/dev/null || true; fi
  OVS_MADE_NETDEV=0
}

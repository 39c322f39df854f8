// The table's port and vhost commands (control/commands.hpp).
#include "control/commands_parts.hpp"
#include "control/switch.hpp"
#include "control/validate.hpp"

namespace brisk::commands {

namespace {

// The VLAN alternatives of `port add` (`vlan <id>`) and `port vlan` (`access <id>`).
std::vector<OptionSpec> vlan_mode_options(std::string_view access) {
  const ArgSpec id{.name = "vlan", .kind = ArgKind::kVlan, .shown = "id"};
  return {
      {.keyword = access, .args = {id}, .exclusive = true},
      {.keyword = "trunk",
       .args =
           {{.name = "vlans", .kind = ArgKind::kVlanList, .label = "vlan list", .optional = true}},
       .exclusive = true},
      {.keyword = "dot1q-tunnel", .args = {id}, .exclusive = true},
      {.keyword = "native",
       .args = {{.name = "native", .kind = ArgKind::kVlan, .shown = "id", .label = "native vlan"}},
       .needs = "trunk"}};
}

struct VlanChoice {
  VlanMode mode = VlanMode::kAccess;
  VlanId vlan = 0;
  VlanSet allowed;  // a trunk's (every VLAN when not given)
  VlanId native = 0;
};

VlanChoice vlan_choice(const CommandArgs& a) {
  VlanChoice v;
  if (a.has("trunk")) {
    v.mode = VlanMode::kTrunk;
    if (a.has("vlans"))
      v.allowed = a.at("vlans").vlans;
    else
      v.allowed.set();
    if (a.has("native")) v.native = a.at("native").vlan;
    return v;
  }
  v.mode = a.has("dot1q-tunnel") ? VlanMode::kDot1qTunnel : VlanMode::kAccess;
  v.vlan = a.at("vlan").vlan;
  return v;
}

Reply port_add(CommandContext& cx, const CommandArgs& a) {
  VlanChoice v = vlan_choice(a);
  return cx.sw.port_add(a.at("iface").text, a.text("bridge", cx.sw.default_bridge()), v.mode,
                        v.vlan, v.allowed, v.native, a.text("driver"));
}

Reply port_vlan(CommandContext& cx, const CommandArgs& a) {
  VlanChoice v = vlan_choice(a);
  return cx.sw.port_vlan(a.at("port").text, v.mode, v.vlan, v.allowed, v.native);
}

Reply vhost_create(CommandContext& cx, const CommandArgs& a) {
  std::string name = a.text("name");
  if (a.has("name") && name.empty()) return Reply::error(check_ifname("port name", name));
  return cx.sw.vhost_create(a.text("bridge", cx.sw.default_bridge()), a.at("vlan").vlan, name,
                            a.at("path").text, a.has("server"));
}

Reply port_security(CommandContext& cx, const CommandArgs& a) {
  std::string port = a.text("port");
  if (a.has("off")) return cx.sw.security_off(port);
  if (a.has("limit")) return cx.sw.security_limit(port, a.at("limit").number);
  if (!a.has("mac")) return cx.sw.show_security(port);
  const ArgValue* ips = a.find("ips");
  return cx.sw.security_bind(port, a.at("mac").mac, ips ? ips->v4 : std::vector<Ipv4>{},
                             ips ? ips->v6 : std::vector<Ipv6>{});
}

std::vector<OptionSpec> port_add_options() {
  std::vector<OptionSpec> v = vlan_mode_options("vlan");
  v.push_back(kBridgeOption);
  v.push_back({.keyword = "driver",
               .args = {{.name = "driver",
                         .kind = ArgKind::kChoice,
                         .choices = {"afxdp", "afpacket", "dpdk"}}}});
  return v;
}

const char* kPortListDoc =
    R"md(List every port: `port | bridge | kind | mode | vlans | mtu | rx | tx | dropped | fastpath |
qdisc | owner | qos`.
Kinds: `internal` (a bridge's own interface), `tap`, `system/afxdp`, `system/afpacket`,
`system/dpdk`, `vhost/client`, `vhost/server`, `tunnel/<vxlan|gre> <remote>`. Modes:
`access`, `trunk` (vlans: `<list> native <id>`), `dot1q-tunnel` (vlans: the service VLAN).
`fastpath`: `xdp` (accelerated both ways by the XDP fast path), `xdp-in` (frames from it
are; its device cannot take redirected frames, or has a qdisc), `-` (not accelerated).
`mtu`: the device's MTU, re-read every second (`-` for ports without a kernel device);
frames longer than it (plus an Ethernet header and one tag) are not sent but counted
`oversize` on that port. `qdisc`: the qdisc someone installed on a system port's device,
kind and handle (`tbf 8001:`), whose shaping brisk's output to the device passes
([behaviour.md](behaviour.md#system-ports)); `bypassed` after it when brisk could not
open the socket to send through it (logged); `-`: none. `owner`: `native` (made by brisk's
commands or its state file) or `ovsdb` (made from an Open vSwitch database row, `--ovsdb`;
not in the state file). `qos`: the port's rate limits from an Open vSwitch database
(`--ovsdb`; [behaviour.md](behaviour.md#rate-limits-ovs-qos-and-ingress-policing)):
`in <N>kbit` (ingress policing), `out <N>bit htb|userspace` (outbound limit and how it is
realised), `-`: none. `--json` adds, per port, `mtu`,
`tx_segmented` (super-frames brisk cut into segments because the port cannot take them
whole), `tx_csum_completed` (partial checksums brisk finished for it), `xdp_fastpath`,
`xdp_egress`, `fastpath_rx_frames`, `fastpath_tx_frames`, `owner`, `qdisc` (`null`, or `kind`,
`handle`, `root`: it is the device's root qdisc, `through`: brisk's output passes it), `qos`
(`null`, or `ingress_policing`: `rate_kbit`, `burst_kbit`, `depth_bytes`; `egress`:
`max_rate`, `min_rate`, `burst`, `via` `htb`|`userspace`, `why_userspace`), and the AF_XDP
fields of `port add`.)md";

const char* kPortAddDoc =
    R"md(Attach an existing netdev (a veth, a NIC, a VM's tap held by QEMU) as an access port
(`vlan <id>`), a trunk (`<vlans>`: `all` or a list like `10,20,30-40`, every VLAN when
left out; `native <id>`: the VLAN whose frames are untagged) or a QinQ customer port of
service VLAN `<id>` (`dot1q-tunnel`, see `port vlan`). brisk never creates, configures or
deletes the device. Without `driver`, AF_XDP is tried first and AF_PACKET used if it fails
(the answer says so). A name that is not a device gets `E: no such device: <name>`. AF_XDP
never takes over a device that already runs an XDP program. Refused, with the reason, as
the kernel bridge refuses them: the loopback device (`E: lo is the loopback device: ...`)
and a device that another master holds (a kernel bridge's port, a bond or team slave, a
port of Open vSwitch's kernel datapath, a VRF member: `E: veth1 is a port of kernel bridge
br0 (its master): ...`). A replayed port whose device became such a device while briskd was
down is not attached: it stays pending in `state` with that reason.
`--json port` shows for AF_XDP ports `afxdp_mode` (`native/copy`, `native/zerocopy`,
`generic/copy`), `afxdp_umem` (`shared`: in its worker's UMEM; `private`: its own, when
sharing was off, refused or full), `afxdp_worker`, `tx_zero_copy` (frames sent from the
buffer they were received in), `tx_via_qdisc` (frames sent through an AF_PACKET socket
because the device has a qdisc), `afxdp_multi_buffer` (the socket takes frames longer than
a chunk, `XDP_USE_SG`), `rx_gathered` (frames received in several chunks and gathered
into one big buffer), `umem` (the UMEM's buffers: free, held by the port) and
`xsk`: the socket's kernel counters (`rx_dropped`, `rx_ring_full`, `rx_fill_ring_empty`,
`rx_invalid_descs`, `tx_invalid_descs`, `tx_ring_empty`; the lost frames among them are
also the port's `xsk_*` drops, [behaviour.md](behaviour.md#drops)) and `tx_refused`
(frames the port had no TX entry or copy buffer for, also counted as `tx_error`).
`driver dpdk`: `<iface>` is a NIC bound to vfio-pci/uio (its PCI address) or a DPDK
virtual device (`net_pcap0,iface=veth1`, `net_af_xdp0,iface=eth1`, `net_ring0`,
`net_null0`). The port is named after the device (`0000:03:00.0`, `net_pcap0`). The first
DPDK or vhost-user port starts DPDK inside briskd; a PCI port after DPDK was started for a
vdev or a vhost-user port is refused (restart briskd and add the PCI port first). Errors
`E: DPDK failed to start (...)`, `E: DPDK cannot attach ...` carry the reason and, where
hugepages are missing, how to reserve them
([operations.md](operations.md#hugepages-for-dpdk)). `port delete` stops, closes and
unplugs the device (a vdev disappears; a NIC stays bound to vfio-pci).)md";

const char* kPortVlanDoc =
    R"md(Change the VLAN mode of an existing host tap, system port or vhost-user port in place: its
device, counters, security and mirror settings stay; the addresses it learned are
forgotten (static FDB entries stay for the VLANs it still carries). A VLAN alias of a tap
stays when the VLAN is the alias's. `dot1q-tunnel <id>` (OVS `vlan_mode=dot1q-tunnel
tag=<id>`): every frame received joins service VLAN `<id>` with its own 802.1Q tag (the
customer tag, any VID) kept as payload; toward trunks the service tag is pushed in front
(0x8100/0x8100), toward other dot1q-tunnel ports frames leave as they entered, toward
access ports untagged (the customer tag popped, as OVS with `vlan-limit=2`). A trunk's
double-tagged frame (outer `<id>`) reaches the port with its inner tag. Never accelerated by
the XDP fast path. Errors: `no port named <p>`, a bridge's own interface or a tunnel
(always trunks of every VLAN), bad mode, VLAN or list. See
[behaviour.md](behaviour.md#qinq-dot1q-tunnel-ports).)md";

const char* kPortSecurityDoc =
    R"md(Without a setting: list secured ports (`port | mac | ips | limit | flood | storm`; one port
with `<p>`). `mac <mac> [ip <addr>[,<addr>...]]`: bind a MAC (and its IPv4/IPv6 addresses)
to the port; repeat for more MACs (up to 64). Other source MACs, ARP senders, IPs and
neighbour advertisements are dropped (`sec_*` reasons) and logged (rate limited). Forgets
what the port had learned. Rules: [behaviour.md](behaviour.md#port-security). `off`: remove
the port's bindings (limits, flood and storm settings stay). `limit <n>`: cap the MACs the
port may have in the FDB (`0`: no cap); at the cap a new MAC replaces the port's least
recently seen one.)md";

const char* kVhostDoc =
    R"md(A vhost-user port for a VM (QEMU, or DPDK virtio-user) on access VLAN `<vlan>`; prints its
name (default `vhost<N>`). Client mode (default): the VM side serves the socket, brisk
connects and reconnects by itself once a second when the VM goes away; the socket need not
exist yet. `server`: brisk creates the socket (removing a stale file nobody listens on),
listens on it and deletes it with the port. Attaching QEMU and libvirt:
[operations.md](operations.md#attaching-vms).)md";

const CommandSpec kPortCommands[] = {
    {.words = {"port"},
     .help = "list ports with kind, VLAN mode and counters",
     .doc = kPortListDoc,
     .section = "port",
     .handler = [](CommandContext& cx, const CommandArgs&) { return cx.sw.list_ports(); }},
    {.words = {"port", "add"},
     .args = {{.name = "iface"}},
     .options = port_add_options(),
     .exclusive_name = "vlan mode",
     .exclusive_required = true,
     .help = "attach a device (dpdk: a PCI address or vdev string)",
     .doc = kPortAddDoc,
     .section = "port",
     .handler = port_add},
    {.words = {"port", "vlan"},
     .args = {kPortArg},
     .options = vlan_mode_options("access"),
     .exclusive_name = "vlan mode",
     .exclusive_required = true,
     .help = "change a port's VLAN mode in place",
     .doc = kPortVlanDoc,
     .section = "port",
     .handler = port_vlan},
    {.words = {"port", "delete"},
     .args = {kPortArg},
     .help = "detach a port",
     .doc = "Detach a port (a bridge's own interface: use `bridge destroy`).",
     .section = "port",
     .handler = [](CommandContext& cx,
                   const CommandArgs& a) { return cx.sw.port_delete(a.at("port").text); }},
    {.words = {"port", "flood"},
     .args = {kPortArg,
              {.name = "flood",
               .kind = ArgKind::kChoice,
               .label = "flood setting",
               .choices = {"on", "off"}}},
     .help = "flood unknown unicast to the port or not",
     .doc =
         R"md(`off`: unknown unicast is not flooded toward this port (broadcast and multicast still
are).)md",
     .section = "port",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.set_flood(a.at("port").text, a.at("flood").text == "on");
         }},
    {.words = {"port", "storm"},
     .args = {kPortArg,
              {.name = "rate",
               .kind = ArgKind::kUint,
               .shown = "frames/s",
               .min = 1,
               .max = 100000000,
               .unit = "frames/s",
               .alt = "off"}},
     .help = "storm control",
     .doc =
         R"md(Storm control: broadcast, multicast and unknown unicast entering the port above the rate
are dropped (drop reason `storm_control`).)md",
     .section = "port",
     .handler =
         [](CommandContext& cx, const CommandArgs& a) {
           return cx.sw.set_storm(a.at("port").text, a.at("rate").number);
         }},
    {.words = {"port", "security"},
     .args = {{.name = "port", .shown = "p", .optional = true}},
     .options =
         {{.keyword = "mac",
           .args = {{.name = "mac", .kind = ArgKind::kMac}},
           .exclusive = true,
           .needs = "port"},
          {.keyword = "ip",
           .args = {{.name = "ips", .kind = ArgKind::kIpList, .shown = "addr,...", .label = "ip"}},
           .needs = "mac"},
          {.keyword = "off", .args = {}, .exclusive = true, .needs = "port"},
          {.keyword = "limit",
           .args = {{.name = "limit",
                     .kind = ArgKind::kUint,
                     .shown = "n",
                     .max = kMacTableMaxLimit,
                     .unit = "MACs (0: no cap)"}},
           .exclusive = true,
           .needs = "port"}},
     .exclusive_name = "security setting",
     .help = "list port security, or bind MACs and IPs, unbind, cap MACs",
     .doc = kPortSecurityDoc,
     .section = "port",
     .handler = port_security},
    {.words = {"vhost", "create"},
     .args = {{.name = "vlan", .kind = ArgKind::kVlan}},
     .options = {{.keyword = "socket",
                  .args = {{.name = "path", .kind = ArgKind::kPath, .label = "socket path"}},
                  .required = true},
                 kBridgeOption,
                 {.keyword = "name", .args = {{.name = "name", .label = "port name"}}},
                 {.keyword = "server", .args = {}}},
     .help = "a vhost-user port for a VM",
     .doc = kVhostDoc,
     .section = "vhost",
     .handler = vhost_create},
};

}  // namespace

std::span<const CommandSpec> port_commands() { return kPortCommands; }

}  // namespace brisk::commands

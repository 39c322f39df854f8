/* brisk_xdp_abi.h: the one definition of what brisk's XDP program (bpf/brisk_xdp.c) and
 * its userspace owner (datapath/xdp_fastpath.cpp, datapath/afxdp_port.cpp) share: limits,
 * port flags and the layouts of the fast path's map keys and values. Plain C with the
 * kernel's fixed-width types (<linux/types.h>), included by both; the C++ side checks the
 * sizes below and that the limits agree with its own (kMaxPorts, kMaxMirrors, kMaxFrameLen).
 * The VLAN rules both sides apply are brisk_vlan.h's.
 *
 * Who writes what (each map's comment in brisk_xdp.c says more): XdpFastpath (control
 * thread) writes ports, FDB entries, mirror pairs, groups and destinations with whole-element
 * updates, and the tunnels' outer headers and decapsulation keys; the program writes the
 * per-CPU counters and the FDB entries' seen_ns. */
#ifndef BRISK_XDP_ABI_H
#define BRISK_XDP_ABI_H

#include <linux/types.h>

#include "brisk_vlan.h"

/* The entry point every brisk AF_XDP port and the fast path attach: brisk_xdp.c defines the
 * function through BRISK_XDP_PROG, userspace looks it up by BRISK_XDP_PROG_NAME. The same
 * object's tc (clsact ingress) program, BRISK_TC_PROG, is attached next to it on ports with
 * the fast path (see BRISK_FP_SKB). */
#define BRISK_XDP_PROG brisk_xdp_rx
#define BRISK_XDP_GENERIC_PROG brisk_xdp_rx_skb  // the same, for generic mode (no frags)
#define BRISK_TC_PROG brisk_tc_rx
// An AF_PACKET port's receive socket filter with the fast path: keeps from the socket what
// BRISK_TC_PROG forwards (an AF_PACKET socket sees frames before tc does).
#define BRISK_SOCK_PROG brisk_sock_rx
// The fast path's mirror transmit counter (SEC("tp_btf/xdp_devmap_xmit")), loaded by
// XdpFastpath only.
#define BRISK_DEVMAP_PROG brisk_devmap_xmit
#define BRISK_XDP_STR_(x) #x
#define BRISK_XDP_STR(x) BRISK_XDP_STR_(x)
#define BRISK_XDP_PROG_NAME BRISK_XDP_STR(BRISK_XDP_PROG)
#define BRISK_XDP_GENERIC_PROG_NAME BRISK_XDP_STR(BRISK_XDP_GENERIC_PROG)
#define BRISK_TC_PROG_NAME BRISK_XDP_STR(BRISK_TC_PROG)
#define BRISK_SOCK_PROG_NAME BRISK_XDP_STR(BRISK_SOCK_PROG)
#define BRISK_DEVMAP_PROG_NAME BRISK_XDP_STR(BRISK_DEVMAP_PROG)

#define BRISK_FP_MAX_PORTS 1024   // kMaxPorts
#define BRISK_FP_MAX_FRAME 1920   // kMaxFrameLen: longer frames go up (userspace drops them)
// The longest frame an AF_XDP socket receives: a 2048-byte UMEM chunk (AfXdpPort::kChunkSize)
// less the XDP_PACKET_HEADROOM (256) the kernel leaves in front of the frame.
#define BRISK_XSK_MAX_FRAME (2048 - 256)
// brisk_oversize's entries (bpf/brisk_xdp.c): [BRISK_XSK_OVERSIZE_COUNT] the frames dropped
// as too long for the socket, [BRISK_XSK_OVERSIZE_LIMIT] the longest frame the socket takes
// (written by AfXdpPort: a multi-buffer socket, XDP_USE_SG, takes frames spanning chunks);
// 0: BRISK_XSK_MAX_FRAME.
#define BRISK_XSK_OVERSIZE_COUNT 0
#define BRISK_XSK_OVERSIZE_LIMIT 1
#define BRISK_FP_FDB_MAX (1 << 20)

#define BRISK_FP_IN 1u   // frames received on this port may take the fast path
#define BRISK_FP_OUT 2u  // the fast path may redirect to this port's device
// Frames entering or leaving this port are mirrored (a port mirror's source, or any port of a
// bridge with a bridge-wide port mirror): the fast path forwards them only with the copies,
// through the (in, out) pair's group in brisk_fp_mpairs; without one they go to userspace.
#define BRISK_FP_MIRROR 4u
// brisk's tc program runs on this port's device (clsact ingress). A fast-path frame that the
// XDP program cannot redirect itself (a partial checksum, an output device that takes no XDP
// redirects, longer than BRISK_FP_MAX_FRAME or in several buffers) is passed up (XDP_PASS),
// and the tc program, making the same decision on the skb, redirects it, with its checksum
// offload and GSO metadata, to the output port's device (bpf_redirect: through its qdisc,
// segmented there if it cannot take the super-frame). Only for untagged frames between ports
// that send them untagged, and not for mirrored ports.
#define BRISK_FP_SKB 8u
// The port is a VXLAN tunnel (IPv4 underlay): it has no device of its own. A frame to it is
// encapsulated in XDP (or, an skb XDP cannot carry, by the tc program of an ingress port with
// BRISK_FP_SKB) with the outer headers of its brisk_fp_tuns entry and redirected to
// the underlay device; a VXLAN packet from its remote with its VNI, received on an underlay
// device running brisk's program, is decapsulated there and forwarded as if received on it.
// BRISK_FP_OUT on a tunnel: its brisk_fp_tuns entry is complete (route and neighbour
// resolved) and the underlay device takes XDP redirects.
#define BRISK_FP_TUNNEL 16u
#define BRISK_FP_MAX_TUNNELS 1024
#define BRISK_VXLAN_PORT 4789
// Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8.
#define BRISK_VXLAN_ENCAP_LEN 50

#define BRISK_FP_MAX_COPIES 8     // mirror destinations per (in, out) pair (kFpMaxCopies)
#define BRISK_FP_GROUP_DEVS 16    // devices per group devmap: out + copies (kFpGroupDevs)
#define BRISK_FP_MAX_GROUPS 1024  // distinct device sets (kFpMaxGroups)
#define BRISK_FP_MAX_PAIRS 65536  // (in, out) pairs with mirror copies (kFpMaxPairs)
#define BRISK_FP_MAX_MIRRORS 64   // kMaxMirrors: mirror counter slots

// A port as the fast path sees it. Index: brisk PortId. Written by XdpFastpath (control
// thread) with whole-element updates; read here.
struct brisk_fp_port {
  __u32 ifindex;      // the device (redirect target)
  __u32 bridge;       // fast-path bridge id (XdpFastpath's, not the snapshot index)
  __u32 flags;        // BRISK_FP_IN | BRISK_FP_OUT; 0: not accelerated
  __u16 mode;         // BRISK_VLAN_ACCESS or BRISK_VLAN_TRUNK (brisk_vlan.h)
  __u16 access_vlan;  // access: the port's VLAN
  __u16 native_vlan;  // trunk: VLAN of untagged frames
  __u16 pad[3];
  __u64 allowed[64];  // trunk: carried VLANs (bit v of allowed[v / 64])
};

struct brisk_fp_key {
  __u32 bridge;
  __u16 vlan;
  __u8 mac[6];
};

struct brisk_fp_entry {
  __u32 port;     // brisk PortId
  __u32 flags;    // reserved, 0
  __u64 seen_ns;  // CLOCK_MONOTONIC ns of the last fast-path frame from this source
};

// Per port and CPU. oversize: frames the tc program found longer than the output device's
// MTU, charged to the ingress port (userspace's drop `oversize`). encap/decap: a tunnel
// port's frames encapsulated (by the XDP or the tc program: a super-frame's segments) /
// decapsulated by the XDP program (also in tx/rx_frames). The tc program also counts as
// `oversize` a frame bpf_skb_adjust_room refuses to encapsulate (it cannot be sent).
struct brisk_fp_counters {
  __u64 rx_frames, rx_bytes, tx_frames, tx_bytes;
  __u64 oversize, encap, decap, pad;
};

// A VXLAN tunnel port's outer headers (brisk_fp_tuns, key: PortId). Written by XdpFastpath
// (control thread) from the kernel's route and neighbour tables (datapath/underlay_resolver.hpp)
// with whole-element updates of a hash map (the program sees the old or the new element,
// never a mix); read here. Addresses in network order.
struct brisk_fp_tunnel {
  __u8 dmac[6];     // next hop's MAC (the remote's, or its gateway's)
  __u8 smac[6];     // the underlay device's MAC
  __u32 saddr;      // local IPv4 address (the route's preferred source)
  __u32 daddr;      // the remote
  __u32 vni;        // host order, < 2^24
  __u32 ifindex;    // the underlay device (the route's output device)
  __u32 mtu;        // the route's MTU: longer outer packets go to userspace (it fragments)
  __u32 pad;
};
// Decapsulation key (brisk_fp_tunrx -> PortId): the remote (network order) and the VNI.
struct brisk_fp_tunkey {
  __u32 remote;
  __u32 vni;
};

// What a mirrored (in, out) pair needs. Key: struct brisk_fp_pair. Written by XdpFastpath
// (whole-element updates: a hash map swaps the element); read here. Shared.
struct brisk_fp_pair {
  __u32 in, out;  // brisk PortIds
};
struct brisk_fp_mgroup {
  __u32 group;     // index into brisk_fp_mdevs: a DEVMAP_HASH of out + every copy's device
  __u16 ncopies;   // mirror destinations (<= BRISK_FP_MAX_COPIES)
  __u16 max_len;   // longest frame (after egress tagging) every device of the group takes
  __u16 dst_port[BRISK_FP_MAX_COPIES];    // the destinations' PortIds (for brisk_fp_stats)
  __u16 slot[BRISK_FP_MAX_COPIES];        // their mirrors' counter slots (brisk_fp_mstats)
  __u16 dst_native[BRISK_FP_MAX_COPIES];  // trunk destination: its native VLAN
  __u8 dst_mode[BRISK_FP_MAX_COPIES];     // their VLAN modes (brisk_vlan_egress_tag())
};

/* Per-CPU counters by mirror slot (brisk_fp_mstats). */
struct brisk_fp_mcounters {
  __u64 mirrored, sent, dropped, pad;
};
/* Mirror destination key (brisk_fp_mdsts). */
struct brisk_fp_dkey {
  __u32 netns;    // inode number of the device's network namespace (/proc/self/ns/net)
  __u32 ifindex;
};
#ifdef __cplusplus
static_assert(sizeof(struct brisk_fp_port) == 536, "brisk_fp_port layout");
static_assert(sizeof(struct brisk_fp_key) == 12, "brisk_fp_key layout");
static_assert(sizeof(struct brisk_fp_entry) == 16, "brisk_fp_entry layout");
static_assert(sizeof(struct brisk_fp_counters) == 64, "brisk_fp_counters layout");
static_assert(sizeof(struct brisk_fp_pair) == 8, "brisk_fp_pair layout");
static_assert(sizeof(struct brisk_fp_mgroup) == 64, "brisk_fp_mgroup layout");
static_assert(sizeof(struct brisk_fp_mcounters) == 32, "brisk_fp_mcounters layout");
static_assert(sizeof(struct brisk_fp_dkey) == 8, "brisk_fp_dkey layout");
static_assert(sizeof(struct brisk_fp_tunnel) == 36, "brisk_fp_tunnel layout");
static_assert(sizeof(struct brisk_fp_tunkey) == 8, "brisk_fp_tunkey layout");
#endif

#endif /* BRISK_XDP_ABI_H */

// brisk_xdp.c: brisk's XDP program, attached by AfXdpPort to every AF_XDP port's netdev.
//
// Two jobs:
//   1. The fast path (brisk_fast_path below): forward a learned unicast frame between two
//      accelerated system ports inside the kernel (bpf_redirect to the output device), with
//      the 802.1Q tag pushed or popped as the output port's VLAN mode asks. It acts only on
//      what userspace published in the shared brisk_fp_* maps (datapath/xdp_fastpath.hpp is
//      the writer and documents the ordering rules); anything it cannot prove safe goes to
//      userspace unchanged.
//   2. Everything else goes to the AF_XDP socket brisk bound to the frame's receive queue,
//      via the XSKMAP `brisk_xsks` (key: rx queue index, value: the XSK fd, filled in from
//      userspace). A queue without a socket in the map passes its frames to the kernel stack
//      (XDP_PASS as bpf_redirect_map()'s fallback action), so attaching the program before the
//      socket exists, or after it is gone, never black-holes traffic. A frame longer than the
//      socket takes (one chunk, BRISK_XSK_MAX_FRAME, unless it is a multi-buffer socket) for a
//      queue with a socket is dropped here and counted in `brisk_oversize`, the port's
//      `oversize` drop (the kernel would drop it too, counted only as the socket's rx_dropped).
//
// The fast path forwards a frame only if ALL of these hold (else: userspace); fp_lookup()
// decides them, for both programs:
//   * the ingress device is a published port with BRISK_FP_IN (accelerated);
//   * destination MAC unicast, source MAC unicast and nonzero;
//   * VLAN classification succeeds by the rules of brisk_vlan.h (which datapath/vlan.hpp
//     applies too), without the drops: access port: untagged only (priority-tagged and tagged
//     frames go up); trunk: a tag with a carried VID, or untagged with a carried native VLAN;
//   * the source (bridge, VLAN, MAC) is in brisk_fp_fdb ON THE INGRESS PORT (not yet learned
//     or moved: userspace learns it);
//   * the destination (bridge, VLAN, MAC) is in brisk_fp_fdb on another accelerated port
//     (BRISK_FP_IN) in the same bridge, carrying the VLAN;
//   * a frame that still carries an 802.1Q tag after classification (the inner, customer
//     tag of a double-tagged frame from a trunk) does not go to an access port: userspace
//     pops that tag too (PortConf::pops_inner_tag()). dot1q-tunnel ports are never
//     published (datapath/vlan.hpp; control/switch_fastpath.cpp);
// The XDP program redirects the frame itself only if ALSO the output port has BRISK_FP_OUT
// (its device takes XDP redirects), the frame is in one buffer and not longer than
// BRISK_FP_MAX_FRAME, and it is not an IPv4/IPv6 TCP/UDP frame whose checksum field holds
// only the pseudo-header sum (a peer's checksum offload, see datapath/csum.hpp; an XDP
// redirect would deliver it unfinished). Else, when the tc program takes the frame
// (tc_takes(): BRISK_FP_SKB on the ingress port, untagged in and out, no mirror), it passes
// the frame up (XDP_PASS) and brisk_tc_rx forwards the skb; otherwise userspace. Toward a
// VXLAN tunnel port the frame is encapsulated (brisk_fp_tunnel.h: fp_encap in XDP, tc_encap
// on the skb).
// On a hit it refreshes the source entry's last-seen time (at most once a second per entry)
// and counts the frame on both ports in brisk_fp_stats.
//
// Mirrors. When the ingress or the output port has BRISK_FP_MIRROR (a port mirror's source,
// or any port of a bridge with a bridge-wide port mirror), the frame is forwarded only with
// its mirror copies, and only if ALSO:
//   * brisk_fp_mpairs has an entry for (in, out): the group (brisk_fp_mdevs: a DEVMAP_HASH
//     of the out device and each copy's device) and the copies' slots, ports and tagging;
//   * every mirror destination tags the frame's VLAN as the out port does (all devices get
//     the same bytes), and the frame after tagging fits the group's max_len (MTUs);
// then it counts one copy per mirror (brisk_fp_mstats.mirrored, and tx on the destination
// port in brisk_fp_stats) and returns bpf_redirect_map(group, 0, BPF_F_BROADCAST): the kernel
// clones the frame for every device but the last (kernel/bpf/devmap.c,
// dev_map_enqueue_multi). brisk_devmap_xmit, on the xdp:xdp_devmap_xmit tracepoint, counts
// what each mirror destination's device took and refused (sent, dropped). The pairs and
// their order of publication are datapath/xdp_fastpath.hpp's ("Mirrors"). In generic mode
// mirrored frames go to userspace (no such event there to count the copies by).
//
// Layout rules:
//   * maps are BTF-defined in the ".maps" section, named brisk_<purpose> (<= 15 characters,
//     the kernel's object name limit), one comment each saying who writes and who reads it;
//     the brisk_fp_* maps are created ONCE by XdpFastpath and shared by every port's program
//     instance (bpf_map__reuse_fd before load); brisk_xsks and brisk_oversize are per
//     instance;
//   * limits, flags and the layouts of map keys and values are in brisk_xdp_abi.h, shared
//     with the C++ side (static_asserts on sizes there);
//   * the entry points are SEC("xdp.frags") BRISK_XDP_PROG (brisk_xdp_rx, native mode) and
//     SEC("xdp") BRISK_XDP_GENERIC_PROG (the same without frags, generic mode), and
//     SEC("tc") BRISK_TC_PROG (brisk_tc_rx), and SEC("socket") BRISK_SOCK_PROG (brisk_sock_rx,
//     an AF_PACKET port's receive filter), which userspace looks up by their *_NAME;
//     BRISK_DEVMAP_PROG (brisk_devmap_xmit, BTF raw tracepoint) is loaded and attached by
//     XdpFastpath only; all loading and attaching is datapath/xdp_loader.hpp's;
//   * anything the fast path does not handle ends in the XSKMAP redirect (or, too long for a
//     chunk, in brisk_oversize).
//
// Built at build time with `clang -O2 -g -target bpf` (bpf/CMakeLists.txt); -g provides the
// BTF that libbpf needs for ".maps".
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "brisk_flow_hash.h"
#include "brisk_xdp_abi.h"

// AF_XDP sockets by rx queue index. Written by userspace (AfXdpPort, one entry per bound
// queue); read by brisk_xdp_rx. Userspace resizes it before load when it binds a queue
// beyond the default size. One per program instance (per port).
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} brisk_xsks SEC(".maps");

// [BRISK_XSK_OVERSIZE_COUNT]: frames dropped for being longer than the socket takes (atomic
// adds, any CPU), read by AfXdpPort through a read-only mmap (BPF_F_MMAPABLE) and added to the
// port's `oversize` drops. [BRISK_XSK_OVERSIZE_LIMIT]: that length (0: BRISK_XSK_MAX_FRAME),
// written by AfXdpPort once its socket is bound. One per program instance (per port).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u64);
} brisk_oversize SEC(".maps");

// ifindex -> PortId of every published port. Written by XdpFastpath; read here. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, BRISK_FP_MAX_PORTS);
  __type(key, __u32);
  __type(value, __u32);
} brisk_fp_ifs SEC(".maps");

// PortId -> brisk_fp_port. Written by XdpFastpath; read here. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, BRISK_FP_MAX_PORTS);
  __type(key, __u32);
  __type(value, struct brisk_fp_port);
} brisk_fp_ports SEC(".maps");

// The FDB entries of accelerated ports, mirrored from the bridges' MacTables. Written by
// XdpFastpath (insert/replace/delete); seen_ns also written here. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, BRISK_FP_FDB_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct brisk_fp_key);
  __type(value, struct brisk_fp_entry);
} brisk_fp_fdb SEC(".maps");

// Per-CPU frame and byte counters of the fast path by PortId. Written here; summed and
// zeroed (when a port id is released) by XdpFastpath. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BRISK_FP_MAX_PORTS);
  __type(key, __u32);
  __type(value, struct brisk_fp_counters);
} brisk_fp_stats SEC(".maps");

// ---- tunnels (datapath/xdp_fastpath.hpp, "Tunnels") ----

// Tunnel PortId -> its outer headers (brisk_xdp_abi.h). Present only while the route and the
// neighbour toward the remote are resolved. Written by XdpFastpath (whole-element updates);
// read here. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, BRISK_FP_MAX_TUNNELS);
  __type(key, __u32);
  __type(value, struct brisk_fp_tunnel);
} brisk_fp_tuns SEC(".maps");

// (remote, VNI) -> tunnel PortId: whose VXLAN packets the underlay's program decapsulates.
// Written by XdpFastpath; read here. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, BRISK_FP_MAX_TUNNELS);
  __type(key, struct brisk_fp_tunkey);
  __type(value, __u32);
} brisk_fp_tunrx SEC(".maps");

// ---- fast-path mirrors (datapath/xdp_fastpath.hpp, "Mirrors") ----

// (in, out) pair -> what its mirror copies need (brisk_xdp_abi.h). Written by XdpFastpath
// (whole-element updates: a hash map swaps the element); read here. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, BRISK_FP_MAX_PAIRS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct brisk_fp_pair);
  __type(value, struct brisk_fp_mgroup);
} brisk_fp_mpairs SEC(".maps");

// Group index -> DEVMAP_HASH (key and value: ifindex) of the out port and the mirror
// destinations; bpf_redirect_map(..., BPF_F_BROADCAST) sends the frame to each (a clone for
// every device but the last). The inner maps are created and filled by XdpFastpath before
// their index appears in brisk_fp_mpairs. Shared.
struct brisk_fp_devs {
  __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
  __uint(max_entries, BRISK_FP_GROUP_DEVS);
  __type(key, __u32);
  __type(value, __u32);
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, BRISK_FP_MAX_GROUPS);
  __type(key, __u32);
  __array(values, struct brisk_fp_devs);
} brisk_fp_mdevs SEC(".maps");

// Per-CPU counters by mirror slot: mirrored (copies this program sent on their way, counted
// here), sent and dropped (what the destination device's ndo_xdp_xmit took or refused,
// counted by brisk_devmap_xmit from the xdp:xdp_devmap_xmit tracepoint). Read by
// XdpFastpath::mirror_counters(). Shared.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BRISK_FP_MAX_MIRRORS);
  __type(key, __u32);
  __type(value, struct brisk_fp_mcounters);
} brisk_fp_mstats SEC(".maps");

// Mirror destination (network namespace, ifindex) -> mirror slot, for brisk_devmap_xmit. A
// destination receives only mirrored frames by XDP redirect, so its devmap transmit counts are
// its mirror's. The namespace is part of the key because the tracepoint fires for redirects
// in every namespace of the host, and ifindexes repeat across namespaces. Written by
// XdpFastpath. Shared.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, BRISK_FP_MAX_MIRRORS);
  __type(key, struct brisk_fp_dkey);
  __type(value, __u32);
} brisk_fp_mdsts SEC(".maps");

// Whether a trunk's allowed bitmap holds `vlan` (brisk_vlan.h's `carried`).
static __always_inline int allowed(const struct brisk_fp_port *p, __u16 vlan) {
  return (p->allowed[(vlan >> 6) & 63] >> (vlan & 63)) & 1;
}

static __always_inline int carries(const struct brisk_fp_port *p, __u16 vlan) {
  return brisk_vlan_carries(p->mode, p->access_vlan, vlan, allowed(p, vlan));
}

static __always_inline __u32 fold(__u32 s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s;
}

// 1 if the frame is TCP/UDP over IPv4/IPv6 with only the pseudo-header sum in its checksum
// field (the test of complete_partial_l4() in datapath/csum.cpp), 0 otherwise.
static __always_inline int partial_l4(void *l3, void *end, __u16 proto_be) {
  __u32 sum = 0;
  __u8 proto;
  __u32 l4len;
  void *l4;
  if (proto_be == bpf_htons(ETH_P_IP)) {
    __u8 *ip = l3;
    if ((void *)(ip + 20) > end) return 0;
    if ((ip[0] >> 4) != 4) return 0;
    __u32 ihl = (__u32)(ip[0] & 0x0f) * 4;
    __u32 tot = ((__u32)ip[2] << 8) | ip[3];
    if (ihl < 20 || tot < ihl) return 0;
    if (((ip[6] & 0x3f) | ip[7]) != 0) return 0;  // a fragment
    proto = ip[9];
    l4len = tot - ihl;
    __u16 *a = (__u16 *)(ip + 12);
#pragma unroll
    for (int i = 0; i < 4; i++) sum += bpf_ntohs(a[i]);
    l4 = ip + ihl;
  } else if (proto_be == bpf_htons(ETH_P_IPV6)) {
    __u8 *ip = l3;
    if ((void *)(ip + 40) > end) return 0;
    proto = ip[6];
    l4len = ((__u32)ip[4] << 8) | ip[5];
    __u16 *a = (__u16 *)(ip + 8);
#pragma unroll
    for (int i = 0; i < 16; i++) sum += bpf_ntohs(a[i]);
    l4 = ip + 40;
  } else {
    return 0;
  }
  __u32 off;
  if (proto == IPPROTO_TCP && l4len >= 20)
    off = 16;
  else if (proto == IPPROTO_UDP && l4len >= 8)
    off = 6;
  else
    return 0;
  if (l4 + 20 > end) return 0;  // covers both offsets
  __u8 *c = (__u8 *)l4 + off;
  if ((void *)(c + 2) > end) return 0;
  sum += proto + l4len;
  __u16 field = ((__u16)c[0] << 8) | c[1];
  return fold(sum) == field;
}

// What the lookup both programs share found for a frame that may take the fast path.
struct fp_hit {
  struct brisk_fp_port *in, *out;
  struct brisk_fp_entry *src;
  void *l3;
  __u32 in_id, out_id;
  __u16 vlan, l3proto;
  int tagged;   // an 802.1Q tag in the frame's bytes (a trunk's VLAN)
  int tag_out;  // the output port sends the VLAN tagged
};

// The forwarding decision of the fast path (the frame's bytes from `data` to `end`, its first
// buffer) for a frame received on port `in_id` (`in`, with BRISK_FP_IN): 0 and `h` filled when
// the frame is learned unicast between two accelerated ports of one bridge that carry its
// VLAN, -1 when userspace must see it (the conditions at the top of this file, but the
// frame's length and checksum). Between two tunnels (split horizon): userspace.
static __always_inline int fp_decide(void *data, void *end, __u32 in_id, struct brisk_fp_port *in,
                                     struct fp_hit *h) {
  if (data + ETH_HLEN > end) return -1;
  struct ethhdr *eth = data;
  if (eth->h_dest[0] & 1) return -1;     // broadcast / multicast: flood in userspace
  if (eth->h_source[0] & 1) return -1;   // userspace drops it (bad_src_mac)

  // VLAN classification (brisk_vlan.h, as datapath/vlan.hpp applies it). Only ports that
  // strip the outer tag (access, trunk) are published; a priority tag goes up (userspace
  // strips it). With a nonzero VID, an inner tag only matters on an access port, which
  // refuses the frame anyway: `inner` is 0 here.
  if (!brisk_vlan_strips_tag(in->mode)) return -1;
  int tagged = 0;
  __u16 vid = 0;
  __u16 l3proto = eth->h_proto;
  void *l3 = eth + 1;
  if (eth->h_proto == bpf_htons(ETH_P_8021Q)) {
    if (data + ETH_HLEN + 4 > end) return -1;
    __u8 *tag = (__u8 *)(eth + 1);
    vid = (((__u16)tag[0] & 0x0f) << 8) | tag[1];
    l3proto = *(__u16 *)(tag + 2);
    l3 = tag + 4;
    tagged = 1;
    if (vid == 0) return -1;
  }
  __u16 vlan = brisk_vlan_of(in->mode, in->access_vlan, in->native_vlan, vid);
  if (brisk_vlan_admit(in->mode, vid, 0, allowed(in, vlan)) != BRISK_VLAN_OK) return -1;

  // Source learned on this very port?
  struct brisk_fp_key k = {.bridge = in->bridge, .vlan = vlan};
  __builtin_memcpy(k.mac, eth->h_source, 6);
  struct brisk_fp_entry *src = bpf_map_lookup_elem(&brisk_fp_fdb, &k);
  if (!src || src->port != in_id) return -1;

  // Destination learned on another accelerated port of the bridge carrying the VLAN?
  __builtin_memcpy(k.mac, eth->h_dest, 6);
  struct brisk_fp_entry *dst = bpf_map_lookup_elem(&brisk_fp_fdb, &k);
  if (!dst) return -1;
  __u32 out_id = dst->port;
  if (out_id == in_id) return -1;  // same_port: userspace counts the drop
  struct brisk_fp_port *out = bpf_map_lookup_elem(&brisk_fp_ports, &out_id);
  if (!out || !(out->flags & BRISK_FP_IN) || out->bridge != in->bridge || !carries(out, vlan))
    return -1;
  if (in->flags & out->flags & BRISK_FP_TUNNEL) return -1;  // split horizon: userspace drops
  // A customer tag the output port pops: userspace.
  if (brisk_vlan_pops_inner(out->mode) && l3proto == bpf_htons(ETH_P_8021Q)) return -1;

  h->in = in;
  h->out = out;
  h->src = src;
  h->l3 = l3;
  h->in_id = in_id;
  h->out_id = out_id;
  h->vlan = vlan;
  h->l3proto = l3proto;
  h->tagged = tagged;
  // Egress VLAN: the output port's tag for it (brisk_vlan.h; its VID is the frame's VLAN).
  h->tag_out = brisk_vlan_egress_tag(out->mode, out->native_vlan, vlan) != 0;
  return 0;
}

// fp_decide() for a frame received on the device `ifindex` (a published, accelerated port).
static __always_inline int fp_lookup(void *data, void *end, __u32 ifindex, struct fp_hit *h) {
  __u32 *pidp = bpf_map_lookup_elem(&brisk_fp_ifs, &ifindex);
  if (!pidp) return -1;
  __u32 in_id = *pidp;
  struct brisk_fp_port *in = bpf_map_lookup_elem(&brisk_fp_ports, &in_id);
  if (!in || !(in->flags & BRISK_FP_IN) || in->ifindex != ifindex) return -1;
  return fp_decide(data, end, in_id, in, h);
}

// The tc program forwards this hit (BRISK_FP_SKB on the ingress port): untagged in and out,
// no mirror on either port, not from a tunnel. Toward a tunnel only IPv4/IPv6 frames
// (bpf_skb_adjust_room encapsulates those only) while its outer headers are resolved; whether
// the encapsulated frame fits the route's MTU is tc_tunnel_fits() (brisk_fp_tunnel.h).
static __always_inline int tc_takes(const struct fp_hit *h) {
  if (!(h->in->flags & BRISK_FP_SKB) || h->tagged || h->tag_out) return 0;
  if ((h->in->flags | h->out->flags) & BRISK_FP_MIRROR) return 0;
  if (h->in->flags & BRISK_FP_TUNNEL) return 0;
  if (!(h->out->flags & BRISK_FP_TUNNEL)) return 1;
  if (h->l3proto != bpf_htons(ETH_P_IP) && h->l3proto != bpf_htons(ETH_P_IPV6)) return 0;
  __u32 out_id = h->out_id;
  return bpf_map_lookup_elem(&brisk_fp_tuns, &out_id) != 0;
}

static __always_inline void stamp_source(struct brisk_fp_entry *src) {
  // Keep the source alive for ageing (the control thread reads seen_ns before expiring it).
  __u64 now = bpf_ktime_get_coarse_ns();
  if (now - src->seen_ns > 1000000000ull) src->seen_ns = now;
}

// Moves the frame's start by `strip` bytes (> 0: outer headers in front of the frame are
// dropped; < 0: room for outer headers is made in front of it) and pops (`pop`) or pushes
// (`push`, VLAN `vlan`) the frame's 802.1Q tag, in one bpf_xdp_adjust_head(). `strip` is a
// constant at every call. 0, or -1 with the frame untouched (no headroom).
static __always_inline int retag(struct xdp_md *ctx, const int strip, int pop, int push,
                                 __u16 vlan) {
  const int room = strip < 0 ? -strip : 0;  // where the frame starts after the move
  const int skip = strip > 0 ? strip : 0;   // where it starts before
  if (pop) {
    // The MACs move 4 bytes forward over the tag, before the start moves past it.
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + skip + ETH_HLEN + 4 > end) return -1;
    __u32 macs[3];
    __builtin_memcpy(macs, data + skip, 12);
    __builtin_memcpy(data + skip + 4, macs, 12);
  }
  const int delta = strip + (pop ? 4 : 0) - (push ? 4 : 0);
  if (delta != 0 && bpf_xdp_adjust_head(ctx, delta) != 0) {
    if (pop) {  // put the MACs back: the frame goes up as it came
      void *data = (void *)(long)ctx->data;
      void *end = (void *)(long)ctx->data_end;
      if (data + skip + ETH_HLEN + 4 > end) return -1;
      __u32 macs[3];
      __builtin_memcpy(macs, data + skip + 4, 12);
      __builtin_memcpy(data + skip, macs, 12);
    }
    return -1;
  }
  if (push) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + room + ETH_HLEN + 4 > end) return -1;
    __u8 *f = (__u8 *)data + room;
    __u32 macs[3];
    __builtin_memcpy(macs, f + 4, 12);
    __builtin_memcpy(f, macs, 12);
    f[12] = 0x81;
    f[13] = 0x00;
    f[14] = (vlan >> 8) & 0x0f;
    f[15] = vlan & 0xff;
  }
  return 0;
}

static __always_inline void count_rx(__u32 id, __u32 len, int decap) {
  struct brisk_fp_counters *c = bpf_map_lookup_elem(&brisk_fp_stats, &id);
  if (!c) return;
  c->rx_frames += 1;
  c->rx_bytes += len;
  c->decap += decap;
}

static __always_inline void count_tx(__u32 id, __u32 len, int encap) {
  struct brisk_fp_counters *c = bpf_map_lookup_elem(&brisk_fp_stats, &id);
  if (!c) return;
  c->tx_frames += 1;
  c->tx_bytes += len;
  c->encap += encap;
}

#include "brisk_fp_tunnel.h"

// Returns XDP_REDIRECT when the frame was forwarded, XDP_PASS when the tc program forwards it
// (it makes the same decision on the skb), -1 when userspace must see it. `generic`: the
// program runs in generic (skb) mode, where a broadcast redirect's copies leave through
// generic_xdp_tx with no xdp_devmap_xmit event to count them: mirrored frames go to userspace,
// which counts every copy.
static __always_inline int brisk_fast_path(struct xdp_md *ctx, const int generic) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  // The whole frame: with frags (a multi-buffer frame, xdp.frags) data..end is its first part.
  __u32 len = (__u32)bpf_xdp_get_buff_len(ctx);
  const int whole = (__u32)(end - data) == len;
  struct fp_hit h;
  if (fp_lookup(data, end, ctx->ingress_ifindex, &h) != 0) return -1;
  struct brisk_fp_port *in = h.in, *out = h.out;
  __u32 in_id = h.in_id, out_id = h.out_id;
  __u16 vlan = h.vlan;
  int tagged = h.tagged, tag_out = h.tag_out;
  if (out->flags & BRISK_FP_TUNNEL) return fp_encap(ctx, &h, len, generic);

  // What XDP cannot carry goes to the tc program, or else to userspace: a partial checksum
  // (XDP has no CHECKSUM_PARTIAL), an output device without XDP redirects, a long or
  // multi-buffer frame.
  if (!(out->flags & BRISK_FP_OUT) || !whole || len > BRISK_FP_MAX_FRAME ||
      partial_l4(h.l3, end, h.l3proto)) {
    if (!tc_takes(&h)) return -1;
    stamp_source(h.src);
    return XDP_PASS;
  }
  __u32 out_ifindex = out->ifindex;
  __u32 out_len = len;

  // Mirrors: the pair's group, or userspace. Every device of the group gets the same bytes,
  // so each destination must tag the frame's VLAN as the out port does (mirror copies carry
  // the destination's egress tag, datapath/mirror.hpp).
  struct brisk_fp_mgroup *g = 0;
  void *devs = 0;
  if ((in->flags | out->flags) & BRISK_FP_MIRROR) {
    if (generic) return -1;
    struct brisk_fp_pair pk = {.in = in_id, .out = out_id};
    g = bpf_map_lookup_elem(&brisk_fp_mpairs, &pk);
    if (!g) return -1;
    __u32 n = g->ncopies;
    if (n == 0 || n > BRISK_FP_MAX_COPIES) return -1;
    __u32 want_len = len + (tagged && !tag_out ? -4 : 0) + (!tagged && tag_out ? 4 : 0);
    if (want_len > g->max_len) return -1;
#pragma unroll
    for (int i = 0; i < BRISK_FP_MAX_COPIES; i++) {
      if (i < n) {
        int tag_d = brisk_vlan_egress_tag(g->dst_mode[i], g->dst_native[i], vlan) != 0;
        if (tag_d != tag_out) return -1;
      }
    }
    __u32 gi = g->group;
    devs = bpf_map_lookup_elem(&brisk_fp_mdevs, &gi);
    if (!devs) return -1;
  }
  if (retag(ctx, 0, tagged && !tag_out, !tagged && tag_out, vlan) != 0) return -1;
  out_len = len + (tagged && !tag_out ? -4 : 0) + (!tagged && tag_out ? 4 : 0);

  stamp_source(h.src);

  struct brisk_fp_counters *c = bpf_map_lookup_elem(&brisk_fp_stats, &in_id);
  if (c) {
    c->rx_frames += 1;
    c->rx_bytes += len;
  }
  c = bpf_map_lookup_elem(&brisk_fp_stats, &out_id);
  if (c) {
    c->tx_frames += 1;
    c->tx_bytes += out_len;
  }
  if (!devs) return bpf_redirect(out_ifindex, 0);

  // One copy per mirror: counted as mirrored on the mirror and as a transmission on its
  // destination port; whether the device took it is counted by brisk_devmap_xmit.
  __u32 n = g->ncopies;
#pragma unroll
  for (int i = 0; i < BRISK_FP_MAX_COPIES; i++) {
    if (i < n) {
      __u32 slot = g->slot[i];
      struct brisk_fp_mcounters *mc = bpf_map_lookup_elem(&brisk_fp_mstats, &slot);
      if (mc) mc->mirrored += 1;
      __u32 dp = g->dst_port[i];
      c = bpf_map_lookup_elem(&brisk_fp_stats, &dp);
      if (c) {
        c->tx_frames += 1;
        c->tx_bytes += out_len;
      }
    }
  }
  return bpf_redirect_map(devs, 0, BPF_F_BROADCAST);
}

static __always_inline int brisk_rx(struct xdp_md *ctx, const int generic) {
  if (fp_decap(ctx, generic) == XDP_REDIRECT) return XDP_REDIRECT;
  int act = brisk_fast_path(ctx, generic);
  if (act == XDP_REDIRECT || act == XDP_PASS || act == XDP_DROP) return act;
  __u32 queue = ctx->rx_queue_index;
  __u64 len = bpf_xdp_get_buff_len(ctx);
  if (len > BRISK_XSK_MAX_FRAME) {
    __u32 k = BRISK_XSK_OVERSIZE_LIMIT;
    __u64 *limit = bpf_map_lookup_elem(&brisk_oversize, &k);
    if ((!limit || *limit == 0 || len > *limit) && bpf_map_lookup_elem(&brisk_xsks, &queue)) {
      k = BRISK_XSK_OVERSIZE_COUNT;
      __u64 *n = bpf_map_lookup_elem(&brisk_oversize, &k);
      if (n) __sync_fetch_and_add(n, 1);
      return XDP_DROP;
    }
  }
  return bpf_redirect_map(&brisk_xsks, queue, XDP_PASS);
}

// Native mode: xdp.frags (BPF_F_XDP_HAS_FRAGS) takes multi-buffer frames, so a veth under it
// accepts an MTU above a page (9000) on its peer.
SEC("xdp.frags")
int BRISK_XDP_PROG(struct xdp_md *ctx) { return brisk_rx(ctx, 0); }

// Generic (skb) mode: the same program without frags. Generic XDP linearizes an skb for it
// in place; for a frags-aware program it copies the skb into new pages and the copy reaches
// tc without its MAC header length (6.18), which breaks the tc half's redirect.
SEC("xdp")
int BRISK_XDP_GENERIC_PROG(struct xdp_md *ctx) { return brisk_rx(ctx, 1); }

// The tc fast path (clsact ingress of a port with BRISK_FP_SKB): the skbs the XDP program
// passed up because it could not redirect them itself. The same decision (fp_lookup,
// tc_takes) on the skb's bytes; a frame it does not take goes on to the stack as it would
// without this program (a frame XDP passed and the state changed in between is lost there:
// the microseconds a change takes to land, as for an XDP redirect). A frame longer than the
// output device's MTU (a GSO super-frame: any of its segments) is dropped and counted
// (`oversize`). bpf_redirect keeps the skb's checksum offload and GSO metadata; the output
// device's qdisc, and software segmentation where it cannot take the super-frame, apply as
// for any transmission. Toward a tunnel port: tc_encap (brisk_fp_tunnel.h). Counters count
// wire frames (a super-frame's segments).
SEC("tc")
int BRISK_TC_PROG(struct __sk_buff *skb) {
  if (skb->vlan_present) return TC_ACT_OK;  // the tag outside the bytes: not for XDP either
  int act = tc_decap(skb);  // on an underlay device
  if (act >= 0) return act;
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  struct fp_hit h;
  // skb->ifindex: the receiving device (skb_iif is not carried over when generic XDP copies
  // the skb into its own pages).
  if (fp_lookup(data, end, skb->ifindex, &h) != 0 || !tc_takes(&h)) return TC_ACT_OK;
  if (h.out->flags & BRISK_FP_TUNNEL) return tc_encap(skb, &h);
  __u32 in_id = h.in_id, out_id = h.out_id;
  struct brisk_fp_counters *c = bpf_map_lookup_elem(&brisk_fp_stats, &in_id);
  if (!c) return TC_ACT_OK;
  __u32 mtu = 0;
  if (bpf_check_mtu(skb, h.out->ifindex, &mtu, 0, BPF_MTU_CHK_SEGS) != BPF_MTU_CHK_RET_SUCCESS) {
    c->oversize += 1;
    return TC_ACT_SHOT;
  }
  stamp_source(h.src);
  __u32 frames = skb->gso_segs > 1 ? skb->gso_segs : 1;
  c->rx_frames += frames;
  c->rx_bytes += skb->len;
  struct brisk_fp_counters *oc = bpf_map_lookup_elem(&brisk_fp_stats, &out_id);
  if (oc) {
    oc->tx_frames += frames;
    oc->tx_bytes += skb->len;
  }
  return bpf_redirect(h.out->ifindex, 0);
}

// The receive socket's filter of an AF_PACKET port with the fast path (BRISK_FP_SKB on a port
// with no XDP program: brisk_tc_rx alone forwards for it). AF_PACKET sees every frame before
// clsact ingress (__netif_receive_skb_core: taps, then tc), so without this filter brisk would
// receive in userspace, and forward a second time, what brisk_tc_rx is about to forward. The
// same decision as brisk_tc_rx on the same skb: 0 (not for the socket) for a frame the tc
// program takes (forwards, or drops as oversize: it counts those), the whole frame otherwise.
// Toward a tunnel, a frame tc_tunnel_fits leaves to userspace goes to the socket (the tunnel
// port's socket fragments it). A socket filter has no direct packet access: the Ethernet
// header, a tag and the L3 and TCP headers' first bytes are copied to the stack first. A
// change of the maps between the two runs (the microseconds a change takes to land) may
// deliver a frame to both or to neither, as for an XDP redirect racing a change.
SEC("socket")
int BRISK_SOCK_PROG(struct __sk_buff *skb) {
  __u8 hdr[ETH_HLEN + 4 + 60 + 13];  // toward a tunnel: the IP header and TCP's data offset too
  __builtin_memset(hdr, 0, sizeof(hdr));
  if (skb->vlan_present || skb->len < ETH_HLEN + 4) return skb->len;
  __u32 n = skb->len < sizeof(hdr) ? skb->len : sizeof(hdr);
  if (n < ETH_HLEN + 4 || n > sizeof(hdr) || bpf_skb_load_bytes(skb, 0, hdr, n) != 0)
    return skb->len;
  struct fp_hit h;
  if (fp_lookup(hdr, hdr + n, skb->ifindex, &h) != 0 || !tc_takes(&h)) return skb->len;
  if (h.out->flags & BRISK_FP_TUNNEL) {
    __u32 out_id = h.out_id;
    struct brisk_fp_tunnel *t = bpf_map_lookup_elem(&brisk_fp_tuns, &out_id);
    if (!t || tc_tunnel_fits(t, skb->len, skb->gso_size, h.l3, hdr + n, h.l3proto) ==
                  TC_TUN_LEAVE)
      return skb->len;
  }
  return 0;
}

// xdp:xdp_devmap_xmit (include/trace/events/xdp.h), as a BTF-enabled raw tracepoint: one
// event per bulk transmit of redirected frames to a device, after the driver's ndo_xdp_xmit,
// with how many it took (sent) and refused (drops). Events for a mirror destination's device
// (its namespace and ifindex, read from the net_device, CO-RE relocated) are counted on its mirror;
// every other device is ignored. Attached by XdpFastpath while a mirror's copies are made in
// the kernel; never loaded by the per-port instances.
struct ns_common {
  unsigned int inum;
} __attribute__((preserve_access_index));
struct net {
  struct ns_common ns;
} __attribute__((preserve_access_index));
typedef struct {
  struct net *net;
} possible_net_t;
struct net_device {
  int ifindex;
  possible_net_t nd_net;
} __attribute__((preserve_access_index));

// BPF_PROG through one more macro, so that its name argument is expanded first.
#define BRISK_BPF_PROG(name, ...) BPF_PROG(name, __VA_ARGS__)
SEC("tp_btf/xdp_devmap_xmit")
int BRISK_BPF_PROG(BRISK_DEVMAP_PROG, const struct net_device *from_dev,
                   const struct net_device *to_dev, int sent, int drops, int err) {
  // Direct loads: a tp_btf argument is a trusted BTF pointer, and the verifier turns these
  // into fault-safe loads; BPF_CORE_READ would call bpf_probe_read_kernel() once per field.
  struct brisk_fp_dkey k = {
      .netns = to_dev->nd_net.net->ns.inum,
      .ifindex = (__u32)to_dev->ifindex,
  };
  __u32 *slot = bpf_map_lookup_elem(&brisk_fp_mdsts, &k);
  if (!slot) return 0;
  struct brisk_fp_mcounters *mc = bpf_map_lookup_elem(&brisk_fp_mstats, slot);
  if (!mc) return 0;
  if (sent > 0) mc->sent += (__u32)sent;
  if (drops > 0) mc->dropped += (__u32)drops;
  return 0;
}

// GPL-compatible, so the verifier lets the fast path use every helper.
char _license[] SEC("license") = "GPL";

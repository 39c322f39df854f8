/* brisk_flow_hash.h: the one definition of the UDP source port a VXLAN packet carries, for
 * both encapsulation paths: the tunnel port's sockets (datapath/tunnel_codec.cpp) and the XDP
 * fast path (bpf/brisk_xdp.c). Plain C with the kernel's fixed-width types, like brisk_vlan.h:
 * it compiles as BPF C and as C++.
 *
 * Why a hash: routers and NICs between two tunnel ends spread traffic over paths and queues by
 * the outer 5-tuple (ECMP, RSS). With one fixed source port every inner flow of a tunnel takes
 * one path and one receive queue. RFC 7348 (5.) asks for a source port from a hash of the
 * inner headers in the dynamic range; the kernel's vxlan device (udp_flow_src_port() in
 * include/net/udp.h) and Open vSwitch do the same.
 *
 * The inner flow: after the Ethernet header and at most one 802.1Q tag,
 *   IPv4: source and destination address, protocol, and for TCP/UDP/SCTP the two ports
 *         (not for a fragment: only the first piece has them, and all pieces of one packet
 *         must take one path);
 *   IPv6: both addresses, next header, and the ports of TCP/UDP/SCTP right after the fixed
 *         header;
 *   anything else (ARP, a truncated header): both MAC addresses and the EtherType.
 * So every frame of one TCP connection gets one source port (in both directions different
 * ones, as the kernel's), and different connections spread over the range.
 *
 * The port: the kernel's default ephemeral range, 32768..60999 (net.ipv4.ip_local_port_range,
 * what udp_flow_src_port() uses when the device has no range of its own), scaled from the hash
 * as the kernel does ((hash * range) >> 32), never 4789 itself.
 *
 * Bounds: every read is checked against `end` before it is made (the BPF verifier's rule for
 * packet pointers); `p`..`end` is the frame's first buffer. */
#ifndef BRISK_FLOW_HASH_H
#define BRISK_FLOW_HASH_H

#include <linux/types.h>

#define BRISK_FLOW_FN static inline __attribute__((always_inline))

#define BRISK_VXLAN_SPORT_MIN 32768u
#define BRISK_VXLAN_SPORT_MAX 61000u /* one past the last: 60999 */

BRISK_FLOW_FN __u32 brisk_flow_rd32(const __u8 *p) {
  return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | (__u32)p[3];
}

/* One 32-bit word into the running hash (multiply-xorshift, murmur3's constants). */
BRISK_FLOW_FN __u32 brisk_flow_mix(__u32 h, __u32 v) {
  v *= 0xcc9e2d51u;
  v = (v << 15) | (v >> 17);
  v *= 0x1b873593u;
  h ^= v;
  h = (h << 13) | (h >> 19);
  return h * 5u + 0xe6546b64u;
}

/* murmur3's finalizer: every input bit reaches every output bit. */
BRISK_FLOW_FN __u32 brisk_flow_final(__u32 h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* Whether a protocol has 16-bit source and destination ports first in its header. */
BRISK_FLOW_FN int brisk_flow_has_ports(__u8 proto) {
  return proto == 6 /* TCP */ || proto == 17 /* UDP */ || proto == 132 /* SCTP */;
}

/* The hash of the inner flow of the Ethernet frame p..end (see the top of this file). */
BRISK_FLOW_FN __u32 brisk_flow_hash(const __u8 *p, const __u8 *end) {
  __u32 h = 0x62726b73u; /* "brks" */
  if (p + 14 > end) return brisk_flow_final(h);
  const __u8 *l3 = p + 14;
  __u16 type = (__u16)(((__u16)p[12] << 8) | p[13]);
  if (type == 0x8100) {
    if (p + 18 > end) return brisk_flow_final(h);
    type = (__u16)(((__u16)p[16] << 8) | p[17]);
    l3 = p + 18;
  }
  if (type == 0x0800 && l3 + 20 <= end && (l3[0] >> 4) == 4) {
    const __u32 ihl = (__u32)(l3[0] & 0x0f) * 4;
    const __u8 proto = l3[9];
    h = brisk_flow_mix(h, brisk_flow_rd32(l3 + 12));
    h = brisk_flow_mix(h, brisk_flow_rd32(l3 + 16));
    h = brisk_flow_mix(h, proto);
    const int frag = ((l3[6] & 0x3f) | l3[7]) != 0;
    if (ihl >= 20 && !frag && brisk_flow_has_ports(proto)) {
      const __u8 *l4 = l3 + ihl;
      if (l4 + 4 <= end) h = brisk_flow_mix(h, brisk_flow_rd32(l4));
    }
    return brisk_flow_final(h);
  }
  if (type == 0x86dd && l3 + 40 <= end) {
#ifdef __clang__
#pragma unroll
#endif
    for (int i = 0; i < 8; i++) h = brisk_flow_mix(h, brisk_flow_rd32(l3 + 8 + 4 * i));
    const __u8 proto = l3[6];
    h = brisk_flow_mix(h, proto);
    if (brisk_flow_has_ports(proto) && l3 + 44 <= end)
      h = brisk_flow_mix(h, brisk_flow_rd32(l3 + 40));
    return brisk_flow_final(h);
  }
  h = brisk_flow_mix(h, brisk_flow_rd32(p));
  h = brisk_flow_mix(h, brisk_flow_rd32(p + 4));
  h = brisk_flow_mix(h, brisk_flow_rd32(p + 8));
  h = brisk_flow_mix(h, type);
  return brisk_flow_final(h);
}

/* The UDP source port (host order) for a hash: BRISK_VXLAN_SPORT_MIN..MAX-1. */
BRISK_FLOW_FN __u16 brisk_vxlan_sport(__u32 hash) {
  hash ^= hash << 16; /* as udp_flow_src_port(): the low bits reach the scaled result */
  return (__u16)((((__u64)hash * (BRISK_VXLAN_SPORT_MAX - BRISK_VXLAN_SPORT_MIN)) >> 32) +
                 BRISK_VXLAN_SPORT_MIN);
}

#endif /* BRISK_FLOW_HASH_H */

// brisk_fp_tunnel.h: VXLAN (IPv4 underlay) in brisk's fast path, included by brisk_xdp.c after
// its maps and the shared lookup (fp_decide, fp_lookup, tc_takes, retag, counters): one
// translation unit, so the maps and helpers are brisk_xdp.c's.
//   fp_encap  XDP: push the outer headers of a hit toward a tunnel port, redirect to the underlay
//   fp_decap  XDP: strip a tunnel's VXLAN on the underlay, forward the inner frame
//   tc_encap  tc: the same encapsulation on an skb (partial checksum, GSO super-frame)
// The outer headers' layout and the tunnel entries are brisk_xdp_abi.h's (brisk_fp_tunnel).
#ifndef BRISK_FP_TUNNEL_H
#define BRISK_FP_TUNNEL_H
// The IPv4 header checksum of a 20-byte header whose checksum field is 0.
static __always_inline __u16 ipv4_csum(const __u16 *w) {
  __u32 sum = 0;
#pragma unroll
  for (int i = 0; i < 10; i++) sum += w[i];
  return ~fold(sum) & 0xffff;
}

// Writes the outer Ethernet/IPv4/UDP/VXLAN headers (BRISK_VXLAN_ENCAP_LEN bytes at `o`) of
// tunnel `t` for an outer IPv4 packet of `ip_len` bytes. IPv4: DF clear (as the tunnel port's
// socket sends), TTL 64, a random ID, the header checksum; UDP: source port `sport` (the
// inner flow's hash, brisk_flow_hash.h), checksum 0; VXLAN: I flag and the VNI.
static __always_inline void vxlan_write(__u8 *o, const struct brisk_fp_tunnel *t, __u32 ip_len,
                                        __u16 sport) {
  __builtin_memcpy(o, t->dmac, 6);
  __builtin_memcpy(o + 6, t->smac, 6);
  o[12] = 0x08;
  o[13] = 0x00;
  __u16 *ip = (__u16 *)(o + ETH_HLEN);
  ip[0] = bpf_htons(0x4500);
  ip[1] = bpf_htons((__u16)ip_len);
  ip[2] = (__u16)bpf_get_prandom_u32();
  ip[3] = 0;                  // DF clear, no fragment
  ip[4] = bpf_htons(0x4011);  // TTL 64, UDP
  ip[5] = 0;
  __builtin_memcpy(&ip[6], &t->saddr, 4);
  __builtin_memcpy(&ip[8], &t->daddr, 4);
  ip[5] = ipv4_csum(ip);
  __u16 *udp = (__u16 *)(o + ETH_HLEN + 20);
  udp[0] = bpf_htons(sport);
  udp[1] = bpf_htons(BRISK_VXLAN_PORT);
  udp[2] = bpf_htons((__u16)(ip_len - 20));
  udp[3] = 0;
  __u32 *vx = (__u32 *)(o + ETH_HLEN + 28);
  vx[0] = bpf_htonl(0x08000000);
  vx[1] = bpf_htonl(t->vni << 8);
}

// The IPv4/IPv6 header length and the L4 protocol of the frame's L3 header at `l3` (no IPv6
// extension headers); 0 when it cannot be read.
static __always_inline __u32 l3_header(void *l3, void *end, __u16 l3proto, __u8 *proto) {
  __u8 *ip = l3;
  if (l3proto == bpf_htons(ETH_P_IP)) {
    if ((void *)(ip + 20) > end) return 0;
    *proto = ip[9];
    return (__u32)(ip[0] & 0x0f) * 4;
  }
  if (l3proto == bpf_htons(ETH_P_IPV6)) {
    if ((void *)(ip + 40) > end) return 0;
    *proto = ip[6];
    return 40;
  }
  return 0;
}

// Whether brisk_tc_rx encapsulates an skb toward tunnel `t` (the frame `len` bytes, GSO
// segment payload `gso_size`, 0 without GSO; L3 header at `l3` in the linear data up to
// `end`): TC_TUN_TAKE when the outer packets fit the route's MTU; TC_TUN_LEAVE for a frame
// without GSO that does not (userspace's socket fragments it: the XDP program and the
// AF_PACKET socket filter leave it to userspace); TC_TUN_OVERSIZE for a super-frame whose
// segments do not fit even with the segment size lowered by the outer headers, or that is not
// TCP (bpf_skb_adjust_room grows TCP super-frames only): dropped and counted `oversize`.
// A super-frame keeps its segment size when its outer segments fit (BPF_F_ADJ_ROOM_FIXED_GSO,
// TC_TUN_TAKE), else its segments are made 50 bytes shorter (TC_TUN_SHRINK).
#define TC_TUN_LEAVE 0
#define TC_TUN_TAKE 1
#define TC_TUN_SHRINK 2
#define TC_TUN_OVERSIZE 3
static __always_inline int tc_tunnel_fits(const struct brisk_fp_tunnel *t, __u32 len,
                                          __u32 gso_size, void *l3, void *end, __u16 l3proto) {
  if (gso_size == 0)
    return len + BRISK_VXLAN_ENCAP_LEN - ETH_HLEN <= t->mtu ? TC_TUN_TAKE : TC_TUN_LEAVE;
  __u8 proto = 0;
  __u32 l3h = l3_header(l3, end, l3proto, &proto);
  if (l3h < 20 || proto != IPPROTO_TCP) return TC_TUN_OVERSIZE;
  __u8 *tcp = (__u8 *)l3 + l3h;
  if ((void *)(tcp + 13) > end) return TC_TUN_OVERSIZE;
  const __u32 seg = l3h + (__u32)(tcp[12] >> 4) * 4 + gso_size;  // an inner segment's L3 length
  if (seg + BRISK_VXLAN_ENCAP_LEN <= t->mtu) return TC_TUN_TAKE;
  if (seg <= t->mtu && gso_size > BRISK_VXLAN_ENCAP_LEN) return TC_TUN_SHRINK;
  return TC_TUN_OVERSIZE;
}

// A hit whose output port is a VXLAN tunnel (BRISK_FP_TUNNEL): the frame, with the tunnel's
// egress tagging (VLAN 0 untagged, others tagged), gets the outer headers of its brisk_fp_tuns
// entry (vxlan_write) and is redirected to the underlay device. Userspace (the socket path)
// when the entry is missing (route or neighbour unresolved), a mirror is involved, or the
// outer packet would exceed the route's MTU (userspace's socket fragments it). What XDP
// cannot carry (a partial checksum, not whole or longer than BRISK_FP_MAX_FRAME, an underlay
// that takes no XDP redirects in native mode) is passed up to brisk_tc_rx (XDP_PASS) when
// tc_takes() it and, for a frame of one buffer up to BRISK_FP_MAX_FRAME, it fits the MTU
// (tc_tunnel_fits: without GSO); otherwise userspace. A longer frame is taken to be a GSO
// super-frame, which tc_tunnel_fits judges by its segments, and only if TCP.
static __always_inline int fp_encap(struct xdp_md *ctx, const struct fp_hit *h, __u32 len,
                                    const int generic) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if ((h->in->flags | h->out->flags) & BRISK_FP_MIRROR) return -1;
  __u32 out_id = h->out_id;
  struct brisk_fp_tunnel *t = bpf_map_lookup_elem(&brisk_fp_tuns, &out_id);
  if (!t) return -1;
  const int pop = h->tagged && !h->tag_out, push = !h->tagged && h->tag_out;
  const __u32 inner = len + (pop ? -4 : 0) + (push ? 4 : 0);
  const __u32 ip_len = inner + BRISK_VXLAN_ENCAP_LEN - ETH_HLEN;
  const int big = (__u32)(end - data) != len || len > BRISK_FP_MAX_FRAME;
  if (big || (!generic && !(h->out->flags & BRISK_FP_OUT)) ||
      partial_l4(h->l3, end, h->l3proto)) {
    if (!tc_takes(h)) return -1;
    if (big) {
      __u8 proto = 0;
      if (!l3_header(h->l3, end, h->l3proto, &proto) || proto != IPPROTO_TCP) return -1;
    } else if (ip_len > t->mtu) {
      return -1;
    }
    stamp_source(h->src);
    return XDP_PASS;
  }
  if (ip_len > t->mtu) return -1;
  const __u16 sport = brisk_vxlan_sport(brisk_flow_hash(data, end));
  const __u32 ifindex = t->ifindex;
  struct brisk_fp_tunnel tun = *t;
  if (retag(ctx, -BRISK_VXLAN_ENCAP_LEN, pop, push, h->vlan) != 0) return -1;

  data = (void *)(long)ctx->data;
  end = (void *)(long)ctx->data_end;
  if (data + BRISK_VXLAN_ENCAP_LEN > end) return XDP_DROP;  // cannot be: the room was made
  vxlan_write(data, &tun, ip_len, sport);
  stamp_source(h->src);
  count_rx(h->in_id, len, 0);
  count_tx(out_id, inner, 1);
  return bpf_redirect(ifindex, 0);
}

// brisk_tc_rx's hit toward a tunnel port (tc_takes: untagged, IPv4/IPv6, the entry resolved):
// bpf_skb_adjust_room makes 50 bytes of room after the Ethernet header and marks the skb as
// encapsulated (skb->encapsulation, inner MAC/network/transport headers, inner protocol; a
// super-frame gets SKB_GSO_UDP_TUNNEL and is segmented with both headers right, by the
// output device or in software), the frame's Ethernet header is copied to the room's end (the
// inner one) and the outer headers written in front (vxlan_write; for a super-frame the
// length fields are its whole, rewritten per segment by segmentation). A partial checksum
// stays partial: csum_start keeps pointing at the inner L4 header (the headers in front are
// moved, not the frame's bytes). Then bpf_redirect to the underlay. TC_ACT_OK (not taken)
// for what tc_tunnel_fits leaves to userspace; TC_ACT_SHOT for an oversize super-frame
// (counted) or when the helper refuses the skb (counted `oversize` too: it cannot be sent).
static __always_inline int tc_encap(struct __sk_buff *skb, const struct fp_hit *h) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u32 in_id = h->in_id, out_id = h->out_id;
  struct brisk_fp_counters *c = bpf_map_lookup_elem(&brisk_fp_stats, &in_id);
  struct brisk_fp_tunnel *t = bpf_map_lookup_elem(&brisk_fp_tuns, &out_id);
  if (!c || !t) return TC_ACT_OK;
  const __u32 len = skb->len;
  const int fit = tc_tunnel_fits(t, len, skb->gso_size, h->l3, end, h->l3proto);
  if (fit == TC_TUN_LEAVE) return TC_ACT_OK;
  if (fit == TC_TUN_OVERSIZE) {
    c->oversize += 1;
    return TC_ACT_SHOT;
  }
  struct brisk_fp_tunnel tun = *t;
  const __u16 sport = brisk_vxlan_sport(brisk_flow_hash(data, end));
  const __u32 frames = skb->gso_segs > 1 ? skb->gso_segs : 1;
  if (data + ETH_HLEN > end) return TC_ACT_OK;
  __u8 eth[ETH_HLEN];
  __builtin_memcpy(eth, data, ETH_HLEN);
  const __u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
                      BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
  long err = fit == TC_TUN_TAKE ? bpf_skb_adjust_room(skb, BRISK_VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC,
                                                      flags | BPF_F_ADJ_ROOM_FIXED_GSO)
                                : bpf_skb_adjust_room(skb, BRISK_VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC,
                                                      flags);
  if (err != 0) {
    c->oversize += 1;
    return TC_ACT_SHOT;
  }
  data = (void *)(long)skb->data;
  end = (void *)(long)skb->data_end;
  if (data + BRISK_VXLAN_ENCAP_LEN + ETH_HLEN > end) {  // cannot be: the room is linear
    c->oversize += 1;
    return TC_ACT_SHOT;
  }
  __u32 ip_len = len + BRISK_VXLAN_ENCAP_LEN - ETH_HLEN;
  if (ip_len > 0xffff) ip_len = 0xffff;  // a super-frame's: segmentation rewrites it
  vxlan_write(data, &tun, ip_len, sport);
  __builtin_memcpy((__u8 *)data + BRISK_VXLAN_ENCAP_LEN, eth, ETH_HLEN);
  stamp_source(h->src);
  c->rx_frames += frames;
  c->rx_bytes += len;
  struct brisk_fp_counters *oc = bpf_map_lookup_elem(&brisk_fp_stats, &out_id);
  if (oc) {
    oc->tx_frames += frames;
    oc->tx_bytes += len;
    oc->encap += frames;
  }
  return bpf_redirect(tun.ifindex, 0);
}

// A VXLAN packet on an underlay device (or any device brisk's program runs on): IPv4 without
// options, not a fragment, UDP to port 4789, from a tunnel's remote with its VNI
// (brisk_fp_tunrx), to the tunnel's local address. Its inner frame takes the fast path as if
// received on the tunnel port (fp_decide: the source learned on the tunnel, the destination
// on an accelerated port that is not a tunnel): the outer headers are stripped and the frame
// redirected. -1 for everything else, untouched: a packet that is not a tunnel's goes on to
// the kernel (brisk_rx), a tunnel's that the fast path does not forward to the tunnel port's
// socket (userspace learns, floods, counts drops).
// The tunnel PortId whose VXLAN packet the frame at `p` (up to `end`, at least
// BRISK_VXLAN_ENCAP_LEN + ETH_HLEN bytes) is: IPv4 without options, not a fragment, UDP to
// 4789, the I flag, from a tunnel's remote with its VNI, to its local address; with the outer
// IPv4 and UDP lengths in `ip_len`, `udp_len`. -1 otherwise.
static __always_inline int vxlan_tunnel(__u8 *p, __u32 *ip_len, __u32 *udp_len) {
  if (p[12] != 0x08 || p[13] != 0x00) return -1;
  __u8 *ip = p + ETH_HLEN;
  if (ip[0] != 0x45 || ip[9] != IPPROTO_UDP || ((ip[6] & 0x3f) | ip[7]) != 0) return -1;
  __u8 *udp = ip + 20;
  if (udp[2] != (BRISK_VXLAN_PORT >> 8) || udp[3] != (BRISK_VXLAN_PORT & 0xff)) return -1;
  __u8 *vx = udp + 8;
  if (!(vx[0] & 0x08)) return -1;  // userspace counts it malformed
  struct brisk_fp_tunkey k = {.vni = ((__u32)vx[4] << 16) | ((__u32)vx[5] << 8) | vx[6]};
  __builtin_memcpy(&k.remote, ip + 12, 4);
  __u32 *tidp = bpf_map_lookup_elem(&brisk_fp_tunrx, &k);
  if (!tidp) return -1;
  __u32 tid = *tidp;
  struct brisk_fp_tunnel *t = bpf_map_lookup_elem(&brisk_fp_tuns, &tid);
  if (!t) return -1;
  __u32 daddr;
  __builtin_memcpy(&daddr, ip + 16, 4);
  if (daddr != t->saddr) return -1;
  *ip_len = ((__u32)ip[2] << 8) | ip[3];
  *udp_len = ((__u32)udp[4] << 8) | udp[5];
  return (int)(tid & 0x7fffffff);
}

static __always_inline int fp_decap(struct xdp_md *ctx, const int generic) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if (data + BRISK_VXLAN_ENCAP_LEN + ETH_HLEN > end) return -1;
  __u32 ip_len, udp_len;
  const int tun = vxlan_tunnel(data, &ip_len, &udp_len);
  if (tun < 0) return -1;
  __u32 tid = (__u32)tun;
  // Lengths: the IPv4 and UDP lengths cover exactly the frame's bytes after the Ethernet
  // header (nothing cut, no padding: VXLAN packets are longer than the minimum frame).
  __u32 len = (__u32)bpf_xdp_get_buff_len(ctx);
  if ((__u32)(end - data) != len || ip_len != len - ETH_HLEN || udp_len != ip_len - 20) return -1;
  const __u32 inner = len - BRISK_VXLAN_ENCAP_LEN;
  struct brisk_fp_port *in = bpf_map_lookup_elem(&brisk_fp_ports, &tid);
  if (!in || (in->flags & (BRISK_FP_IN | BRISK_FP_TUNNEL)) != (BRISK_FP_IN | BRISK_FP_TUNNEL))
    return -1;
  struct fp_hit h;
  if (fp_decide(data + BRISK_VXLAN_ENCAP_LEN, end, tid, in, &h) != 0) return -1;
  if (!generic && !(h.out->flags & BRISK_FP_OUT)) return -1;
  if ((h.in->flags | h.out->flags) & BRISK_FP_MIRROR) return -1;
  if (inner > BRISK_FP_MAX_FRAME || partial_l4(h.l3, end, h.l3proto)) return -1;
  const int pop = h.tagged && !h.tag_out, push = !h.tagged && h.tag_out;
  const __u32 out_ifindex = h.out->ifindex;
  const __u32 out_id = h.out_id;
  stamp_source(h.src);
  if (retag(ctx, BRISK_VXLAN_ENCAP_LEN, pop, push, h.vlan) != 0) return -1;
  count_rx(tid, inner, 1);
  count_tx(out_id, inner + (pop ? -4 : 0) + (push ? 4 : 0), 0);
  return bpf_redirect(out_ifindex, 0);
}
// The decapsulation flags of bpf_skb_adjust_room (the kernel's uapi since 6.x; older headers
// lack them): the L3 protocol of the packet after the outer headers are removed.
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

// brisk_tc_rx on an underlay device (the skbs the XDP program did not redirect: a partial
// inner checksum, a GRO or GSO super-frame, longer than BRISK_FP_MAX_FRAME): a tunnel's VXLAN
// packet (vxlan_tunnel) whose inner frame fp_decide forwards, untagged in and out, no mirror,
// IPv4/IPv6 inside, has its outer headers and the inner Ethernet header removed by
// bpf_skb_adjust_room(-50, BPF_ADJ_ROOM_MAC, DECAP_L3_*, FIXED_GSO: a super-frame keeps its
// segment size), the inner Ethernet header written in the place of the outer one, and is
// redirected to the output port's device; a partial checksum stays partial. A frame longer
// than that device's MTU (any segment of a super-frame) is dropped and counted `oversize` on
// the tunnel port. -1 (the packet untouched) otherwise: it goes on to the kernel and the
// tunnel port's socket (userspace learns, floods, counts).
static __always_inline int tc_decap(struct __sk_buff *skb) {
  if (skb->protocol != bpf_htons(ETH_P_IP) || skb->vlan_present) return -1;
  const __u32 need = BRISK_VXLAN_ENCAP_LEN + ETH_HLEN + 4 + 60 + 13;
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u8 *p = data;  // UDP to 4789 at all? (the headers of what arrives are linear this far)
  if (data + ETH_HLEN + 28 > end || p[ETH_HLEN + 9] != IPPROTO_UDP ||
      p[ETH_HLEN + 22] != (BRISK_VXLAN_PORT >> 8) || p[ETH_HLEN + 23] != (BRISK_VXLAN_PORT & 0xff))
    return -1;
  if (data + need > end) {
    bpf_skb_pull_data(skb, skb->len < need ? skb->len : need);
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
  }
  if (data + BRISK_VXLAN_ENCAP_LEN + ETH_HLEN > end) return -1;
  __u32 ip_len, udp_len;
  const int tun = vxlan_tunnel(data, &ip_len, &udp_len);
  if (tun < 0) return -1;
  __u32 tid = (__u32)tun;
  const __u32 len = skb->len;
  if (skb->gso_size == 0 && (ip_len != len - ETH_HLEN || udp_len != ip_len - 20)) return -1;
  struct brisk_fp_port *in = bpf_map_lookup_elem(&brisk_fp_ports, &tid);
  if (!in || (in->flags & (BRISK_FP_IN | BRISK_FP_TUNNEL)) != (BRISK_FP_IN | BRISK_FP_TUNNEL))
    return -1;
  struct fp_hit h;
  if (fp_decide(data + BRISK_VXLAN_ENCAP_LEN, end, tid, in, &h) != 0) return -1;
  if ((h.in->flags | h.out->flags) & BRISK_FP_MIRROR || h.tagged || h.tag_out) return -1;
  __u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO;
  if (h.l3proto == bpf_htons(ETH_P_IP))
    flags |= BPF_F_ADJ_ROOM_DECAP_L3_IPV4;
  else if (h.l3proto == bpf_htons(ETH_P_IPV6))
    flags |= BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
  else
    return -1;
  struct brisk_fp_counters *c = bpf_map_lookup_elem(&brisk_fp_stats, &tid);
  if (!c) return -1;
  __u8 eth[ETH_HLEN];
  __builtin_memcpy(eth, (__u8 *)data + BRISK_VXLAN_ENCAP_LEN, ETH_HLEN);
  const __u32 out_id = h.out_id, out_ifindex = h.out->ifindex;
  const __u32 frames = skb->gso_segs > 1 ? skb->gso_segs : 1;
  struct brisk_fp_entry *src = h.src;
  if (bpf_skb_adjust_room(skb, -BRISK_VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC, flags) != 0) return -1;
  data = (void *)(long)skb->data;
  end = (void *)(long)skb->data_end;
  if (data + ETH_HLEN > end) return TC_ACT_SHOT;  // cannot be: the header stays linear
  __builtin_memcpy(data, eth, ETH_HLEN);
  __u32 mtu = 0;
  if (bpf_check_mtu(skb, out_ifindex, &mtu, 0, BPF_MTU_CHK_SEGS) != BPF_MTU_CHK_RET_SUCCESS) {
    c->oversize += 1;
    return TC_ACT_SHOT;
  }
  stamp_source(src);
  const __u32 inner = len - BRISK_VXLAN_ENCAP_LEN;
  c->rx_frames += frames;
  c->rx_bytes += inner;
  c->decap += frames;
  struct brisk_fp_counters *oc = bpf_map_lookup_elem(&brisk_fp_stats, &out_id);
  if (oc) {
    oc->tx_frames += frames;
    oc->tx_bytes += inner;
  }
  return bpf_redirect(out_ifindex, 0);
}
#endif  // BRISK_FP_TUNNEL_H

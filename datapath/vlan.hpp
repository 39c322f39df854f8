// VLAN stages: ingress classification and egress tagging.
//
// Ingress (per frame): validates the Ethernet header and assigns the frame its VLAN.
//   access port: untagged and priority-tagged (VID 0) frames join the port's VLAN; frames with
//                a nonzero 802.1Q tag are dropped (kTaggedOnAccess), as OVS access ports do.
//   trunk port:  tagged frames keep their VID if the trunk carries it; untagged and
//                priority-tagged frames join the native VLAN if carried; otherwise dropped
//                (kVlanNotAllowed).
//   dot1q-tunnel port (QinQ customer port, OVS vlan_mode=dot1q-tunnel): EVERY frame joins the
//                port's VLAN (the service VLAN), untagged, priority-tagged or 802.1Q-tagged
//                with any VID (every customer VLAN is accepted: OVS's empty `cvlans`). The
//                customer's tag is NOT removed: it stays in the frame as payload.
// An accepted access or trunk frame is normalised in place: its outer 802.1Q tag, if any, is
// removed by moving the MAC addresses forward 4 bytes, and its VLAN lives in Frame::vlan. Only
// the 0x8100 tag is a VLAN tag here; other ethertypes (0x88a8 included) are payload. One tag
// is removed at most, so a double-tagged frame from a trunk (outer VID N, inner customer tag)
// is in VLAN N and keeps its inner tag, exactly like a frame from a dot1q-tunnel port of N.
// A frame whose tag is cut short (fewer than 18 bytes, or 22 with a second tag) is a runt.
// An access port drops a priority-tagged frame that carries a second tag (kTaggedOnAccess):
// only dot1q-tunnel ports and trunks let a customer tag in.
//
// Egress, per output port (TxItem, written by the port driver, so a flood to access and
// trunk ports shares one buffer):
//   trunk:        PortConf::egress_tag() is pushed in front (VID, priority 0, TPID 0x8100),
//                 except for the native VLAN: a frame with a customer tag leaves
//                 double-tagged 0x8100/0x8100 (outer: service VLAN, inner: customer tag),
//                 which is what OVS sends with other_config:qinq-ethtype=802.1q.
//   dot1q-tunnel: nothing is pushed or popped: frames leave as they entered at the other
//                 end (with their customer tag if they had one).
//   access:       nothing is pushed, and a customer tag still in the frame is popped
//                 (PortConf::pops_inner_tag(), TxItem::pop_tag): an access port emits no
//                 802.1Q header, as OVS's access ports with vlan-limit=2 (they strip every
//                 VLAN header OVS parsed: the service tag and the customer tag). One tag is
//                 popped: a third tag would still be there (OVS parses two at most, too).
// Mirror copies and captures are not popped: an analysis port sees the customer tag.
#pragma once

#include <cstdint>

#include "datapath/counters.hpp"
#include "datapath/frame.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

inline constexpr std::uint32_t kEthHeaderLen = 14;

// Whether a frame (after vlan_ingress) still carries an 802.1Q tag: a customer tag that an
// access port pops on egress (PortConf::pops_inner_tag()).
inline bool has_inner_tag(const Frame& f) noexcept {
  return f.len >= kEthHeaderLen + 4 && f.data[12] == 0x81 && f.data[13] == 0x00;
}

// Returns Drop::kCount when the frame is accepted.
inline Drop vlan_ingress(Frame* f, const PortConf& pc) noexcept {
  if (f->len < kEthHeaderLen) return Drop::kRunt;
  if (f->len > kMaxBigFrameLen) return Drop::kOversize;
  std::uint8_t* d = f->data;
  bool tagged = d[12] == 0x81 && d[13] == 0x00;
  VlanId vid = 0;
  bool inner = false;  // a second 802.1Q tag follows the first
  if (tagged) {
    if (f->len < kEthHeaderLen + 4) return Drop::kRunt;
    vid = static_cast<VlanId>(((d[14] & 0x0f) << 8) | d[15]);
    inner = d[16] == 0x81 && d[17] == 0x00;
    if (inner && f->len < kEthHeaderLen + 8) return Drop::kRunt;
  }
  // The rules: bpf/brisk_vlan.h (the XDP fast path applies them too).
  const std::uint8_t mode = vlan_mode(pc.mode);
  const VlanId v = brisk_vlan_of(mode, pc.access_vlan, pc.native_vlan, vid);
  const int verdict = brisk_vlan_admit(mode, vid, inner, pc.allows(v));
  if (verdict == BRISK_VLAN_TAGGED_ON_ACCESS) return Drop::kTaggedOnAccess;
  if (verdict != BRISK_VLAN_OK) return Drop::kVlanNotAllowed;
  f->vlan = v;
  if (tagged && brisk_vlan_strips_tag(mode)) {  // a dot1q-tunnel port keeps the customer's tag
    // Strip the tag: move destination + source MAC over it.
    std::uint8_t macs[12];
    __builtin_memcpy(macs, d, 12);
    __builtin_memcpy(d + 4, macs, 12);
    f->data = d + 4;
    f->len -= 4;
  }
  return Drop::kCount;
}

}  // namespace brisk

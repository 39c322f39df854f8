// VLAN stages: ingress classification and egress tagging.
//
// Ingress (per frame): validates the Ethernet header and assigns the frame its VLAN.
//   access port: untagged and priority-tagged (VID 0) frames join the port's VLAN; frames with
//                a nonzero 802.1Q tag are dropped (kTaggedOnAccess), as OVS access ports do.
//   trunk port:  tagged frames keep their VID if the trunk carries it; untagged and
//                priority-tagged frames join the native VLAN if carried; otherwise dropped
//                (kVlanNotAllowed).
// An accepted frame is normalised to untagged in place (its 802.1Q tag, if any, is removed by
// moving the MAC addresses forward 4 bytes) and its VLAN lives in Frame::vlan. Only the
// 0x8100 C-tag is a VLAN tag here; other ethertypes (0x88a8 included) are payload.
//
// Egress: PortConf::egress_tag() gives the tag to push per output port; the port driver
// writes it (see TxItem), so a flood to access and trunk ports shares one buffer.
#pragma once

#include <cstdint>

#include "datapath/counters.hpp"
#include "datapath/frame.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

inline constexpr std::uint32_t kEthHeaderLen = 14;

// Returns Drop::kCount when the frame is accepted.
inline Drop vlan_ingress(Frame* f, const PortConf& pc) noexcept {
  if (f->len < kEthHeaderLen) return Drop::kRunt;
  if (f->len > kMaxFrameLen) return Drop::kOversize;
  std::uint8_t* d = f->data;
  bool tagged = d[12] == 0x81 && d[13] == 0x00;
  VlanId vid = 0;
  if (tagged) {
    if (f->len < kEthHeaderLen + 4) return Drop::kRunt;
    vid = static_cast<VlanId>(((d[14] & 0x0f) << 8) | d[15]);
  }
  if (pc.mode == VlanMode::kAccess) {
    if (vid != 0) return Drop::kTaggedOnAccess;
    f->vlan = pc.access_vlan;
  } else {
    VlanId v = vid != 0 ? vid : pc.native_vlan;
    if (!pc.allowed->test(v)) return Drop::kVlanNotAllowed;
    f->vlan = v;
  }
  if (tagged) {
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

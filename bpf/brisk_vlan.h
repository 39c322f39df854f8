/* brisk_vlan.h: the one definition of brisk's VLAN rules per port, written once for both
 * datapaths: the userspace pipeline (datapath/vlan.hpp, PortConf in datapath/snapshot.hpp)
 * and the XDP/tc fast path (bpf/brisk_xdp.c). Plain C with the kernel's fixed-width types:
 * it compiles as BPF C (clang -target bpf) and as C++ (no extern "C" needed: every function
 * is static inline and touches no globals). Pure decisions only; the callers read the frame's
 * bytes and act on the answer (strip, push, drop, or send the frame up to userspace).
 *
 * A port's VLAN mode (struct brisk_fp_port.mode; brisk::VlanMode has the same values):
 *   BRISK_VLAN_ACCESS        one VLAN (the port's VLAN); frames leave untagged
 *   BRISK_VLAN_TRUNK         the VLANs of its allowed set, tagged except the native VLAN
 *   BRISK_VLAN_DOT1Q_TUNNEL  QinQ customer port: every frame joins the port's VLAN and keeps
 *                            its own 802.1Q tag as payload (never on the fast path)
 *
 * The allowed set's representation differs (a 64-word bitmap in the BPF map, a std::bitset in
 * C++), so the functions that need a trunk's membership take it as `carried`: whether the
 * trunk's allowed set holds the VLAN in question. It is read only for a trunk; for other
 * modes a caller may pass anything (0). */
#ifndef BRISK_VLAN_H
#define BRISK_VLAN_H

#include <linux/types.h>

/* Inlined everywhere: the BPF verifier wants no calls here, and the pipeline no call per frame. */
#define BRISK_VLAN_FN static inline __attribute__((always_inline))

#define BRISK_VLAN_ACCESS 0
#define BRISK_VLAN_TRUNK 1
#define BRISK_VLAN_DOT1Q_TUNNEL 2

/* Ingress verdicts (brisk_vlan_admit). */
#define BRISK_VLAN_OK 0
#define BRISK_VLAN_TAGGED_ON_ACCESS 1 /* userspace: Drop::kTaggedOnAccess */
#define BRISK_VLAN_NOT_ALLOWED 2      /* userspace: Drop::kVlanNotAllowed */

/* Whether the functions below read `carried` for a port of this mode (only a trunk's allowed
 * set matters): a caller whose membership test costs something asks this first. */
BRISK_VLAN_FN int brisk_vlan_uses_allowed(__u8 mode) { return mode == BRISK_VLAN_TRUNK; }

/* The VLAN a frame joins on a port. vid: the VID of the frame's outer 802.1Q tag (0:
 * untagged or priority-tagged). A trunk keeps a nonzero VID and puts the rest in its native
 * VLAN; access and dot1q-tunnel ports put every frame in their own VLAN. */
BRISK_VLAN_FN __u16 brisk_vlan_of(__u8 mode, __u16 access_vlan, __u16 native_vlan, __u16 vid) {
  if (mode == BRISK_VLAN_TRUNK) return vid != 0 ? vid : native_vlan;
  return access_vlan;
}

/* Whether the port takes the frame into that VLAN. inner: a second 802.1Q tag follows the
 * outer one; carried: the trunk carries brisk_vlan_of()'s VLAN. An access port takes untagged
 * and priority-tagged frames only (a priority tag around a tagged frame is a tagged frame); a
 * trunk takes what it carries; a dot1q-tunnel port takes everything. */
BRISK_VLAN_FN int brisk_vlan_admit(__u8 mode, __u16 vid, int inner, int carried) {
  if (mode == BRISK_VLAN_ACCESS)
    return vid != 0 || inner ? BRISK_VLAN_TAGGED_ON_ACCESS : BRISK_VLAN_OK;
  if (mode == BRISK_VLAN_TRUNK) return carried ? BRISK_VLAN_OK : BRISK_VLAN_NOT_ALLOWED;
  return BRISK_VLAN_OK;
}

/* Whether the port removes an accepted frame's outer 802.1Q tag (its VLAN then lives outside
 * the bytes): access and trunk ports do; a dot1q-tunnel port keeps it (the customer's tag). */
BRISK_VLAN_FN int brisk_vlan_strips_tag(__u8 mode) { return mode != BRISK_VLAN_DOT1Q_TUNNEL; }

/* Whether a port carries VLAN vlan (may receive and send its frames): a trunk the VLANs of
 * its allowed set (carried), other ports their own VLAN. */
BRISK_VLAN_FN int brisk_vlan_carries(__u8 mode, __u16 access_vlan, __u16 vlan, int carried) {
  return mode == BRISK_VLAN_TRUNK ? carried != 0 : access_vlan == vlan;
}

/* The 802.1Q VID pushed when a frame of VLAN vlan leaves the port (0: none): a trunk tags
 * every VLAN but its native one (and VLAN 0, which has no tag). */
BRISK_VLAN_FN __u16 brisk_vlan_egress_tag(__u8 mode, __u16 native_vlan, __u16 vlan) {
  return mode == BRISK_VLAN_TRUNK && vlan != native_vlan ? vlan : 0;
}

/* Whether a frame that still carries an 802.1Q tag after ingress classification (a customer
 * tag) leaves the port without it: access ports emit no 802.1Q header at all. */
BRISK_VLAN_FN int brisk_vlan_pops_inner(__u8 mode) { return mode == BRISK_VLAN_ACCESS; }

#endif /* BRISK_VLAN_H */

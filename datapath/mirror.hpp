// Mirror stage: copies of the frames entering or leaving selected ports, to a mirror
// destination port or a pcap capture (datapath/capture.hpp). Runs after forward and before
// transmit, only on bridges that have a mirror (BridgeConf::mirrors non-empty: one predictable
// branch per batch on the unmirrored fast path).
//
// Selection, per MirrorConf of the ingress port's bridge:
//   src == the ingress port   every frame of the batch that passed ingress (VLAN, source MAC,
//                             security), whether or not it was then forwarded
//   src == another port       every frame the forward stage queued for src (read back from the
//                             TxQueues: the frames that leave src in this batch)
//   src == kInvalidPort       every frame entering any port of the bridge (select-all)
// A mirror with `vlans` (OVS select_vlan) copies only the selected frames of those VLANs.
// A frame never both enters and leaves the same port, so each mirror copies a frame at most
// once, and a destination port (which serves exactly one mirror) gets at most kBatchSize items
// per batch, as TxQueues requires.
//
// mirror_covers() and mirror_selects() below are that selection, written once: this stage,
// the XDP fast path's mirror pairs (datapath/xdp_fastpath.hpp, "Mirrors": it copies the frames
// it forwards itself, with the same bytes, but for mirrors with `vlans`, whose sources it
// leaves to userspace, and sends up to this stage what it cannot copy identically) and the
// Switch's choice of mirrored fast-path ports all apply them.
//
// Copies to a port are TxItem references to the same frame buffer (no memcpy), with the
// destination's egress tag for the frame's VLAN. Copies to a capture are memcpy'd (up to the
// snap length) into the worker's own capture ring, which never blocks: a full ring drops the
// copy and counts it (MirrorCounters::dropped).
#pragma once

#include "datapath/forward.hpp"
#include "datapath/snapshot.hpp"

namespace brisk {

struct WorkerContext;

// A mirror whose source is `src` copies frames of `port`: every frame entering it, and when
// src is the port itself every frame leaving it too (src == kInvalidPort: bridge-wide, every
// frame entering any port of the bridge).
constexpr bool mirror_covers(PortId src, PortId port) noexcept {
  return src == kInvalidPort || src == port;
}

// Whether a mirror whose source is `src` copies a frame that enters `in` and leaves `out`.
// A frame never both enters and leaves the same port, so the mirror copies it once.
constexpr bool mirror_selects(PortId src, PortId in, PortId out) noexcept {
  return mirror_covers(src, in) || src == out;
}

void mirror_stage(WorkerContext& ctx, const Snapshot& snap, const BridgeConf& br, PortId in,
                  const BatchWork& w) noexcept;

}  // namespace brisk

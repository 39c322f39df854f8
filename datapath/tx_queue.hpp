// TxQueues: per-worker staging of frames per output port, flushed once per batch.
//
// enqueue() takes a frame reference (refs++) and records the 802.1Q tag to push (and whether
// the frame's own tag is popped, see TxItem); flush() hands
// each touched port its items in one tx_burst(), counts tx frames/bytes or tx errors on the
// output port, and releases the references. Owned by one worker: no locking.
//
// flush() assumes its caller holds exactly one reference of its own to every queued frame and
// reads no frame data after it (process_batch). A frame's queues are flushed in turn, each
// releasing its references, so the item that finds refs == 2 (its own and the caller's) is the
// frame's last transmission: it is marked TxItem::handover, and a port sharing the frame's
// buffer (AF_XDP, same UMEM) sends it without a copy. Earlier destinations copy.
//
// Offloads and MTU: a queue holding a frame the port cannot take as it is (Offload metadata
// beyond the port's tx_caps(), or longer than its tx_limit()) goes through finish_and_send():
// partial checksums are completed in place (frame.hpp's contract), super-frames are cut into
// new frames from the worker's pool (datapath/offload.hpp) and released after the send, and a
// frame too long for the port is dropped as kOversize on the output port, never cut.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "datapath/counters.hpp"
#include "datapath/frame.hpp"
#include "datapath/port.hpp"

namespace brisk {

struct Snapshot;
class Policer;

class TxQueues {
 public:
  TxQueues() : q_(new Queue[kMaxPorts]) {}
  void enqueue(PortId out, Frame* f, VlanId push_vlan, bool pop_tag = false) noexcept {
    Queue& q = q_[out];
    if (q.n == 0) touched_[ntouched_++] = out;
    ++f->refs;
    q.careful |= careful_bits(f, q.fits);
    q.items[q.n++] = TxItem{f, push_vlan, pop_tag};
  }
  // n references for `out` at once: frame get(i) with tag tag_of(get(i)->vlan), i < n, no
  // tag popped (mirror copies). The caller guarantees the queue's bound (see flush).
  template <typename Get, typename TagOf>
  void enqueue_bulk(PortId out, std::uint32_t n, Get get, TagOf tag_of) noexcept {
    if (n == 0) return;
    Queue& q = q_[out];
    if (q.n == 0) touched_[ntouched_++] = out;
    TxItem* it = q.items + q.n;
    for (std::uint32_t i = 0; i < n; ++i) {
      Frame* f = get(i);
      ++f->refs;
      q.careful |= careful_bits(f, q.fits);
      it[i] = TxItem{f, tag_of(f->vlan), false};
    }
    q.n += n;
  }
  // Items queued for `out` since the last flush (the mirror stage reads a source's egress).
  const TxItem* queued(PortId out, std::uint32_t& n) const noexcept {
    n = q_[out].n;
    return q_[out].items;
  }
  // A batch of kBatchSize frames puts at most kBatchSize items on one port.
  // Copies toward a mirror destination are also counted per mirror in `mirrors`. A port with
  // a userspace egress limit (PortConf::limit_out) takes only what its bucket admits at
  // `now_ns`; the rest is dropped as kEgressLimit on that port.
  void flush(const Snapshot& snap, FramePool& pool, PortCounters* counters,
             MirrorCounters* mirrors = nullptr, std::uint64_t now_ns = 0) noexcept;

 private:
  struct Queue {
    std::uint32_t n = 0;
    // Nonzero: some item has offload metadata or may exceed the port's limit with a pushed
    // tag, so flush() sends the queue the careful way (finish_and_send decides per frame).
    std::uint32_t careful = 0;
    // The port's tx_limit() - 4 as of its last flush under snapshot `fits_version` (0 before
    // the first: careful). A queue flushed under another snapshot (the slot may hold another
    // port now), or whose port's limit changed since (its MTU), is sent the careful way.
    std::uint32_t fits = 0;
    std::uint64_t fits_version = ~std::uint64_t{0};
    TxItem items[kBatchSize];
  };
  static std::uint32_t careful_bits(const Frame* f, std::uint32_t fits) noexcept {
    return (f->off.flags & Offload::kCsumPartial) | f->off.gso_type |
           static_cast<std::uint32_t>(f->len > fits);
  }
  // See the contract above: refs == 2 is the item's own reference plus the caller's.
  static void mark_handover(Queue& q) noexcept {
    for (std::uint32_t i = 0; i < q.n; ++i) q.items[i].handover = q.items[i].frame->refs == 2;
  }
  // Send `n` items as they are; counts on `c`. Returns how many were sent.
  static std::uint32_t send(Port& port, TxItem* items, std::uint32_t n, PortCounters& c) noexcept;
  // The queue's items made fit for `port` (see above), sent; returns how many items went out
  // whole (every segment of a cut one).
  static std::uint32_t finish_and_send(Queue& q, Port& port, FramePool& pool,
                                       PortCounters& c) noexcept;
  // Drop the items `limit` does not admit (kEgressLimit on c), keeping the rest in order.
  // Returns how many were dropped.
  static std::uint32_t limit(Queue& q, Policer& limit, std::uint64_t now_ns, FramePool& pool,
                             PortCounters& c) noexcept;
  std::unique_ptr<Queue[]> q_;
  std::array<PortId, kMaxPorts> touched_{};
  std::uint32_t ntouched_ = 0;
};

}  // namespace brisk

#include "datapath/afpacket_port.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "bpf/brisk_xdp_abi.h"
#include "datapath/offload.hpp"
#include "datapath/xdp_loader.hpp"

namespace brisk {



namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Reinsert a stripped 802.1Q tag into an untagged frame that starts 4 bytes after `p`.
void insert_tag(std::uint8_t* p, std::uint16_t tpid, std::uint16_t tci) {
  std::memmove(p, p + 4, 12);
  p[12] = static_cast<std::uint8_t>(tpid >> 8);
  p[13] = static_cast<std::uint8_t>(tpid);
  p[14] = static_cast<std::uint8_t>(tci >> 8);
  p[15] = static_cast<std::uint8_t>(tci);
}

tpacket_block_desc* block_at(std::uint8_t* ring, std::uint32_t i) {
  return reinterpret_cast<tpacket_block_desc*>(ring + std::size_t{i} * AfPacketPort::kRingBlockSize);
}

}  // namespace

struct AfPacketPort::FastpathHooks {
  std::unique_ptr<XdpObject> obj;
  int tc_fd = -1;
  TcAttachment tc;
};

// The fast path's programs, loaded on the shared maps; the socket filter attached (before
// bind). On failure fp_error_ says why and the port goes on without them.
void AfPacketPort::attach_filter(const XdpSharedMaps& maps, const std::string& ifname) {
  const std::string who = "AF_PACKET port " + ifname;
  try {
    auto hooks = std::make_unique<FastpathHooks>();
    hooks->obj = std::make_unique<XdpObject>(xdp_object_path("", who), who);
    XdpPrograms programs;
    programs.xdp = false;
    programs.tc = programs.sock = true;
    hooks->obj->prepare(programs, &maps);
    hooks->obj->load();
    hooks->tc_fd = hooks->obj->program_fd(BRISK_TC_PROG_NAME);
    const int sock_fd = hooks->obj->program_fd(BRISK_SOCK_PROG_NAME);
    if (hooks->tc_fd < 0 || sock_fd < 0)
      throw std::runtime_error(who + ": " + hooks->obj->path() + " lacks the tc or socket program");
    if (::setsockopt(fd_, SOL_SOCKET, SO_ATTACH_BPF, &sock_fd, sizeof(sock_fd)) < 0)
      throw std::system_error(errno, std::generic_category(), who + ": SO_ATTACH_BPF");
    fp_ = std::move(hooks);
  } catch (const std::exception& e) {
    fp_error_ = e.what();
  }
}

bool AfPacketPort::tc_attached() const { return fp_ != nullptr && fp_->tc.attached; }

AfPacketPort::AfPacketPort(const std::string& ifname, const XdpSharedMaps* fastpath_maps)
    : Port(ifname, PortKind::kSystem) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) fail(EINVAL, "bad interface name '" + ifname + "'");
  ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex_ == 0) fail(ENODEV, "no such device: " + ifname);

  auto fail_closed = [&](int err, const std::string& what) {
    close_all();
    fail(err, what + " on " + ifname);
  };
  // Protocol 0: nothing is queued until bind() below, after the ring exists.
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail(errno, "AF_PACKET socket for " + ifname);
  int v = TPACKET_V3;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) fail_closed(errno, "PACKET_VERSION");
  v = 1;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &v, sizeof(v)) < 0) fail_closed(errno, "PACKET_VNET_HDR");
  v = 1;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof(v)) < 0) {
    fail_closed(errno, "PACKET_IGNORE_OUTGOING");
  }
  tpacket_req3 req{};
  req.tp_block_size = kRingBlockSize;
  req.tp_block_nr = kRingBlocks;
  req.tp_frame_size = kRingFrameSize;
  req.tp_frame_nr = kRingBlockSize / kRingFrameSize * kRingBlocks;
  req.tp_retire_blk_tov = kBlockTimeoutMs;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) fail_closed(errno, "PACKET_RX_RING");
  ring_len_ = std::size_t{kRingBlockSize} * kRingBlocks;
  void* m = ::mmap(nullptr, ring_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (m == MAP_FAILED) {
    ring_len_ = 0;
    fail_closed(errno, "mmap of the packet ring");
  }
  ring_ = static_cast<std::uint8_t*>(m);
  // The filter before bind(): no frame reaches the ring unfiltered.
  if (fastpath_maps != nullptr) attach_filter(*fastpath_maps, ifname);

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex_;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
    int e = errno;
    if (e == ENODEV || e == ENXIO) {
      close_all();
      fail(ENODEV, "no such device: " + ifname);
    }
    fail_closed(e, "bind");
  }
  sockaddr_ll me{};
  socklen_t mlen = sizeof(me);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&me), &mlen) < 0) fail_closed(errno, "getsockname");
  if (me.sll_hatype != ARPHRD_ETHER) fail_closed(EINVAL, "not an Ethernet device");
  packet_mreq mr{};
  mr.mr_ifindex = ifindex_;
  mr.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
    fail_closed(errno, "promiscuous mode");
  }
  set_tx_caps(txcap::kAll);  // the kernel finishes what the device cannot (validate_xmit_skb)
  set_mtu(device_mtu(ifindex_));
  if (fp_ != nullptr) {
    fp_->tc = tc_attach(ifindex_, fp_->tc_fd);
    if (!fp_->tc.attached) fp_error_ = "AF_PACKET port " + ifname + ": tc attach at clsact ingress failed";
  }
}

AfPacketPort::~AfPacketPort() { close_all(); }

void AfPacketPort::close_all() noexcept {
  if (fp_ != nullptr) tc_detach(fp_->tc);  // the kernel stops forwarding for the port first
  fp_.reset();
  if (ring_ != nullptr) ::munmap(ring_, ring_len_);
  ring_ = nullptr;
  ring_len_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool AfPacketPort::fatal(int err) noexcept {
  if (err == ENXIO || err == ENODEV || err == EBADF || err == EBADFD) {
    mark_failed(err);
    return true;
  }
  return false;
}

void AfPacketPort::check_device() noexcept {
  // Reading SO_ERROR clears the ENETDOWN the kernel sets when the link goes down (otherwise
  // poll(2) keeps reporting POLLERR and a sleeping worker spins).
  int err = 0;
  socklen_t elen = sizeof(err);
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &elen);
  // When the device is unregistered the kernel unbinds the socket: its ifindex becomes -1.
  sockaddr_ll me{};
  socklen_t mlen = sizeof(me);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&me), &mlen) < 0) {
    fatal(errno);
  } else if (me.sll_ifindex != ifindex_) {
    mark_failed(ENODEV);
  }
}

AfPacketPort::Stats AfPacketPort::stats() const {
  Stats s;
  s.rx_csum_partial = csum_partial_.get();
  s.rx_gso_frames = gso_frames_.get();
  s.rx_gso_dropped = gso_dropped_.get();
  s.rx_oversize = oversize_.get();
  s.rx_truncated = truncated_.get();
  return s;
}

void AfPacketPort::describe(DriverFigures& out) const {
  const Stats s = stats();
  add_counter(out, "", "rx_csum_partial", s.rx_csum_partial);
  add_counter(out, "", "rx_gso_frames", s.rx_gso_frames);
  add_counter(out, "", "rx_gso_dropped", s.rx_gso_dropped);
  add_counter(out, "", "rx_truncated", s.rx_truncated);
}

AfPacketPort::KernelStats AfPacketPort::kernel_stats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof(st);
  KernelStats k;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    k.packets = st.tp_packets;
    k.drops = st.tp_drops;
    k.freeze_q_cnt = st.tp_freeze_q_cnt;
  }
  return k;
}

AfPacketPort::Step AfPacketPort::take_packet(FramePool& pool, Frame** out, std::uint32_t max,
                                             std::uint32_t& n) noexcept {
  const auto* h = reinterpret_cast<const tpacket3_hdr*>(pkt_);
  const std::uint8_t* data = pkt_ + h->tp_mac;
  const std::uint32_t len = h->tp_snaplen;
  if (h->tp_snaplen < h->tp_len || len < 14) {
    truncated_.add(1);  // longer than the ring holds (so than a Frame too), or a runt
    driver_drop(len < 14 ? Drop::kRunt : Drop::kOversize);
    return Step::kDone;
  }
  VnetHdr vh;
  std::memcpy(&vh, data - sizeof(vh), sizeof(vh));
  const bool tagged = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
  const std::uint32_t extra = tagged ? 4 : 0;
  std::uint16_t tpid = ethertype::kVlan;
  if ((h->tp_status & TP_STATUS_VLAN_TPID_VALID) != 0 && h->hv1.tp_vlan_tpid != 0) tpid = h->hv1.tp_vlan_tpid;
  const auto tci = static_cast<std::uint16_t>(h->hv1.tp_vlan_tci);

  const Offload off = from_vnet(vh, extra);
  if (!offload_ok(off)) {
    gso_dropped_.add(1);
    driver_drop(Drop::kBadOffload);
    return Step::kDone;
  }
  if (len + extra > kMaxBigFrameLen) {
    oversize_.add(1);
    driver_drop(Drop::kOversize);
    return Step::kDone;
  }
  if (n >= max) return Step::kNeedRoom;
  Frame* f;
  if (len + extra > kMaxFrameLen) {
    // A big frame is not copied: it borrows the ring (see "Big frames" in the header). The ring
    // frame has the vnet header and more in front of it, room for a re-inserted tag.
    f = pool.alloc();
    if (f == nullptr) return Step::kNeedRoom;
    f->reset(len + extra);
    f->data = const_cast<std::uint8_t*>(data) - extra;
    f->ext = this;
    f->ext_handle = block_;
    ++lent_[block_];
  } else {
    f = pool.alloc_for(len + extra);
    if (f == nullptr) return Step::kNeedRoom;
    std::memcpy(f->data + extra, data, len);
  }
  if (tagged) insert_tag(f->data, tpid, tci);
  f->off = off;
  if (off.partial()) csum_partial_.add(1);
  if (off.gso()) gso_frames_.add(1);
  out[n++] = f;
  return Step::kDone;
}

void AfPacketPort::give_back(std::uint32_t b) noexcept {
  std::atomic_ref<std::uint32_t>(block_at(ring_, b)->hdr.bh1.block_status)
      .store(TP_STATUS_KERNEL, std::memory_order_release);
}

void AfPacketPort::recycle(std::uint64_t block) noexcept {
  // The last borrower of a block the walk has left behind gives it back. A block the walk is
  // still in (block_ with frames left) is given back by the walk itself.
  if (--lent_[block] == 0 && (block != block_ || pkts_left_ == 0)) give_back(static_cast<std::uint32_t>(block));
}

std::uint32_t AfPacketPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  if (failed()) return 0;
  std::uint32_t n = 0;
  while (n < max) {
    tpacket_block_desc* bd = block_at(ring_, block_);
    if (pkts_left_ == 0) {
      if (lent_[block_] != 0) break;  // still lent from the last lap: not the kernel's new data
      std::uint32_t st = std::atomic_ref<std::uint32_t>(bd->hdr.bh1.block_status).load(std::memory_order_acquire);
      if ((st & TP_STATUS_USER) == 0) break;
      pkts_left_ = bd->hdr.bh1.num_pkts;
      pkt_ = reinterpret_cast<std::uint8_t*>(bd) + bd->hdr.bh1.offset_to_first_pkt;
    }
    if (pkts_left_ != 0) {
      if (take_packet(pool, out, max, n) == Step::kNeedRoom) break;
      pkt_ += reinterpret_cast<const tpacket3_hdr*>(pkt_)->tp_next_offset;
      --pkts_left_;
    }
    if (pkts_left_ == 0) {
      // Every frame of the block is consumed: hand it back to the kernel, or, while frames
      // still borrow it, when the last of them is released (recycle()).
      if (lent_[block_] == 0) give_back(block_);
      block_ = (block_ + 1) % kRingBlocks;
    }
  }
  if (n == 0 && ++idle_calls_ >= kIdleCheckEvery) {
    idle_calls_ = 0;
    check_device();
  }
  return n;
}

std::uint32_t AfPacketPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  if (failed()) return 0;
  int err = 0;
  const std::uint32_t sent = afpacket::send_frames(fd_, items, n, err);
  if (err != 0) fatal(err);
  return sent;
}

namespace afpacket {

std::uint32_t send_frames(int fd, const TxItem* items, std::uint32_t n, int& err) noexcept {
  err = 0;
  // PACKET_VNET_HDR applies to sends too: the frame's offload metadata (all-zero: a plain,
  // complete frame); the kernel finishes checksums and segments for devices that cannot.
  VnetHdr vnet[kBatchSize];
  std::uint8_t tags[kBatchSize][4];
  iovec iov[kBatchSize][4];
  mmsghdr msgs[kBatchSize];
  std::uint32_t sent = 0;
  for (std::uint32_t base = 0; base < n; base += kBatchSize) {
    const std::uint32_t c = std::min<std::uint32_t>(kBatchSize, n - base);
    std::uint32_t m = 0;
    for (std::uint32_t k = 0; k < c; ++k) {
      const TxItem& it = items[base + k];
      Frame* f = it.frame;
      if (f->len < 14) continue;  // not a frame: counted as not sent
      iovec* v = iov[m];
      v[0] = {&vnet[m], sizeof(VnetHdr)};
      std::size_t nv;
      if (!tx_as_is(it)) {
        vnet[m] = to_vnet(f->off, (it.push_vlan != 0 ? 4 : 0) - (it.pop_tag ? 4 : 0));
        const std::uint32_t tail = tx_tail_offset(it);
        v[1] = {f->data, 12};
        v[2] = {tags[m], 0};
        v[3] = {f->data + tail, f->len - tail};
        if (it.push_vlan != 0) {
          write_vlan_tag(tags[m], it.push_vlan);
          v[2].iov_len = 4;
        }
        nv = 4;
      } else {
        vnet[m] = to_vnet(f->off);
        v[1] = {f->data, f->len};
        nv = 2;
      }
      msgs[m] = mmsghdr{};
      msgs[m].msg_hdr.msg_iov = v;
      msgs[m].msg_hdr.msg_iovlen = nv;
      ++m;
    }
    std::uint32_t i = 0;
    while (i < m) {
      int r = ::sendmmsg(fd, msgs + i, m - i, MSG_DONTWAIT);
      if (r > 0) {
        sent += static_cast<std::uint32_t>(r);
        i += static_cast<std::uint32_t>(r);
        continue;
      }
      int e = r < 0 ? errno : EAGAIN;
      if (e == EINTR) continue;
      // The device is gone, the link is down, the socket buffer is full or the qdisc dropped
      // the frame: the rest of the burst would fail too.
      if (e == ENXIO || e == ENODEV || e == EBADF || e == EBADFD || e == ENETDOWN || e == EAGAIN ||
          e == EWOULDBLOCK || e == ENOBUFS) {
        err = e;
        return sent;
      }
      ++i;  // this frame was refused (too big for the MTU, ...); go on with the next
    }
  }
  return sent;
}

int open_sender(int ifindex) noexcept {
  // Protocol 0: bound to the device, yet no frame is ever queued for reading. The kernel
  // reads each frame's protocol from its Ethernet header (SOCK_RAW).
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int v = 1;
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex;
  if (::setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &v, sizeof(v)) < 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

}  // namespace afpacket

}  // namespace brisk

#include "datapath/vhost_port.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_vhost.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "datapath/dpdk_env.hpp"
#include "datapath/offload.hpp"
#include "datapath/vhost_offload.hpp"

namespace brisk {

namespace {

// socket path -> port; guarded by g_reg_mu, which callbacks hold while they run.
std::mutex g_reg_mu;
std::map<std::string, VhostPort*>& registry() {
  static std::map<std::string, VhostPort*> r;
  return r;
}

VhostPort* lookup(int vid) {
  char path[PATH_MAX];
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0) return nullptr;
  auto it = registry().find(path);
  return it == registry().end() ? nullptr : it->second;
}

int cb_new_device(int vid) {
  std::lock_guard<std::mutex> g(g_reg_mu);
  if (VhostPort* p = lookup(vid)) p->on_new_device(vid);
  return 0;
}
void cb_destroy_device(int vid) {
  std::lock_guard<std::mutex> g(g_reg_mu);
  if (VhostPort* p = lookup(vid)) p->on_destroy_device(vid);
}
int cb_vring_state(int vid, uint16_t vring, int enable) {
  std::lock_guard<std::mutex> g(g_reg_mu);
  if (VhostPort* p = lookup(vid)) p->on_vring_state(vid, vring, enable != 0);
  return 0;
}

const rte_vhost_device_ops g_ops = {
    .new_device = cb_new_device,
    .destroy_device = cb_destroy_device,
    .vring_state_changed = cb_vring_state,
};

// Offloads brisk does not carry (see the header): ECN and UFO in both directions.
constexpr std::uint64_t kWithdrawnFeatures =
    vfeat::kGuestEcn | vfeat::kGuestUfo | vfeat::kHostEcn | vfeat::kHostUfo;

// Tail mbufs point into Frames, which are not freed through the mbuf.
void no_free(void* /*addr*/, void* /*opaque*/) {}
static_assert(sizeof(rte_mbuf_ext_shared_info) <= 32, "Queue::tx_shinfo is too small");

// Server mode: remove a socket file left by a previous run if nobody listens on it.
void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error(path + " exists and is not a socket");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  int err = errno;
  ::close(fd);
  if (rc == 0) throw std::runtime_error("socket " + path + " is in use by another process");
  if (err == ECONNREFUSED) ::unlink(path.c_str());
}

std::atomic<unsigned> g_pool_seq{0};

}  // namespace

VhostPort::VhostPort(const std::string& name, const VhostOptions& opts)
    : Port(name, PortKind::kVhost), opts_(opts) {
  // Until a guest says what it takes (on_new_device).
  set_tx_max(vhost_tx_max(0));
  const std::string& path = opts_.socket;
  if (path.empty() || path[0] != '/')
    throw std::runtime_error("vhost-user socket must be an absolute path, not '" + path + "'");
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("vhost-user socket path too long (max " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " characters)");
  std::string dir = path.substr(0, path.rfind('/'));
  struct stat st {};
  if (!dir.empty() && (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
    throw std::runtime_error("directory " + dir + " of the vhost-user socket does not exist");
  {
    std::lock_guard<std::mutex> g(g_reg_mu);
    if (registry().count(path))
      throw std::runtime_error("socket " + path + " is already used by another vhost port");
  }
  if (opts_.server) remove_stale_socket(path);

  DpdkEnv::instance().ensure_started();

  std::string pool_name = "brisk_vh" + std::to_string(g_pool_seq.fetch_add(1));
  // Transmit: kBurst heads and kTxTails tails per queue pair. Receive: a burst in flight, the
  // frames lent to a worker's batches, and chains of super-frames too long for one external
  // buffer (about 31 mbufs each).
  unsigned n = kMaxQueuePairs * (kBurst + kTxTails) + 1024;
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  SOCKET_ID_ANY);
  if (pool_ == nullptr)
    throw std::runtime_error("vhost port " + name + ": cannot create mbuf pool (" +
                             rte_strerror(rte_errno) + ")" +
                             (DpdkEnv::instance().hugepages() ? "" : std::string("; ") +
                                                                       DpdkEnv::hugepage_hint()));
  for (auto& q : q_) {
    if (rte_pktmbuf_alloc_bulk(pool_, q.tx_mbufs, kBurst) != 0 ||
        rte_pktmbuf_alloc_bulk(pool_, q.tx_tails, kTxTails) != 0) {
      free_mbufs();
      throw std::runtime_error("vhost port " + name + ": mbuf pool exhausted");
    }
  }

  // Receive: external buffers for long frames (else chains), offloads as receive flags.
  std::uint64_t flags = (opts_.server ? 0 : RTE_VHOST_USER_CLIENT) | RTE_VHOST_USER_EXTBUF_SUPPORT |
                        RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS;
  if (rte_vhost_driver_register(path.c_str(), flags) != 0) {
    free_mbufs();
    throw std::runtime_error("cannot register vhost-user socket " + path);
  }
  registered_ = true;
  {
    std::lock_guard<std::mutex> g(g_reg_mu);
    registry()[path] = this;
  }
  auto fail = [&](const std::string& what) {
    rte_vhost_driver_unregister(path.c_str());
    {
      std::lock_guard<std::mutex> g(g_reg_mu);
      registry().erase(path);
    }
    free_mbufs();
    throw std::runtime_error("vhost-user socket " + path + ": " + what);
  };
  if (rte_vhost_driver_disable_features(path.c_str(), kWithdrawnFeatures) != 0)
    fail("cannot set features");
  if (rte_vhost_driver_callback_register(path.c_str(), &g_ops) != 0)
    fail("cannot register callbacks");
  if (rte_vhost_driver_start(path.c_str()) != 0)
    fail(opts_.server ? "cannot listen (see the log)" : "cannot start the client");
}

void VhostPort::describe(DriverFigures& out) const {
  add_flag(out, "", "connected", connected());
  add_gauge(out, "", "queue_pairs", queue_pairs());
  add_counter(out, "", "connects", connects());
  char feat[24];
  std::snprintf(feat, sizeof(feat), "0x%llx", static_cast<unsigned long long>(features()));
  add_text(out, "", "features", feat);
  add_gauge(out, "", "tx_caps", tx_caps());
  add_gauge(out, "", "tx_max", tx_max());
  add_counter(out, "", "rx_offloaded", rx_offloaded());
  add_counter(out, "", "rx_lent", rx_lent());
  add_counter(out, "", "tx_refused", tx_refused());
}

VhostPort::~VhostPort() {
  if (registered_) {
    // Tears down a connected device (destroy_device runs on this thread), stops reconnects,
    // removes a server socket file.
    rte_vhost_driver_unregister(opts_.socket.c_str());
    std::lock_guard<std::mutex> g(g_reg_mu);
    registry().erase(opts_.socket);
  }
  quiesce_all();
  free_mbufs();
}

void VhostPort::free_mbufs() noexcept {
  for (auto& q : q_) {
    for (rte_mbuf*& m : q.tx_mbufs) {
      if (m != nullptr) rte_pktmbuf_free(m);
      m = nullptr;
    }
    for (rte_mbuf*& m : q.tx_tails) {
      if (m != nullptr) rte_pktmbuf_free(m);
      m = nullptr;
    }
  }
  rte_mempool_free(pool_);
  pool_ = nullptr;
}

void VhostPort::recycle(std::uint64_t handle) noexcept {
  rte_pktmbuf_free(reinterpret_cast<rte_mbuf*>(static_cast<std::uintptr_t>(handle)));
}

void VhostPort::quiesce_all() noexcept {
  for (auto& q : q_) {
    while (q.rx_lock.test_and_set(std::memory_order_acquire)) {
    }
    q.rx_lock.clear(std::memory_order_release);
    while (q.tx_lock.test_and_set(std::memory_order_acquire)) {
    }
    q.tx_lock.clear(std::memory_order_release);
  }
}

void VhostPort::on_new_device(int vid) noexcept {
  std::uint32_t nq = rte_vhost_get_vring_num(vid) / 2;
  if (nq > kMaxQueuePairs) {
    syslog(LOG_WARNING, "vhost %s: guest has %u queue pairs; brisk serves the first %u",
           name().c_str(), nq, kMaxQueuePairs);
    nq = kMaxQueuePairs;
  }
  if (nq == 0) nq = 1;
  bool any = false;
  for (std::uint32_t q = 0; q < nq; ++q) any = any || q_[q].rx_enabled.load();
  if (!any) q_[0].rx_enabled.store(true);
  std::uint64_t features = 0;
  if (rte_vhost_get_negotiated_features(vid, &features) != 0) features = 0;
  std::uint16_t mtu = 0;
  if ((features & vfeat::kMtu) == 0 || rte_vhost_get_mtu(vid, &mtu) != 0) mtu = 0;
  features_.store(features, std::memory_order_release);
  guest_mtu_.store(mtu, std::memory_order_relaxed);
  set_tx_caps(vhost_tx_caps(features));
  set_tx_max(vhost_tx_max(features));
  // brisk polls: the guest need not kick us.
  for (std::uint32_t v = 0; v < 2 * nq; ++v) rte_vhost_enable_guest_notification(vid, static_cast<std::uint16_t>(v), 0);
  nq_.store(nq, std::memory_order_release);
  vid_.store(vid, std::memory_order_release);
  connects_.fetch_add(1, std::memory_order_relaxed);
  syslog(LOG_INFO, "vhost %s: device %d ready on %s (%u queue pairs, features 0x%llx)",
         name().c_str(), vid, opts_.socket.c_str(), nq, static_cast<unsigned long long>(features));
}

void VhostPort::on_destroy_device(int vid) noexcept {
  if (vid_.load(std::memory_order_acquire) != vid) return;
  vid_.store(-1, std::memory_order_release);
  quiesce_all();  // every worker that saw the old id has left the library
  for (auto& q : q_) q.rx_enabled.store(false);
  set_tx_caps(0);
  syslog(LOG_INFO, "vhost %s: device %d gone from %s%s", name().c_str(), vid,
         opts_.socket.c_str(), opts_.server ? "" : "; reconnecting");
}

void VhostPort::on_vring_state(int /*vid*/, std::uint16_t vring, bool enable) noexcept {
  // Only a hint for choosing a transmit queue. The library calls this with every vring's
  // access_lock held, and a worker inside rte_vhost_enqueue_burst() holds our tx_lock while
  // it waits for that access_lock: waiting here for tx_lock would deadlock. The library
  // itself refuses enqueues to a disabled vring (under its access_lock).
  if (vring % 2 != 0 || vring / 2 >= kMaxQueuePairs) return;
  q_[vring / 2].rx_enabled.store(enable, std::memory_order_release);
}

std::uint32_t VhostPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  std::uint32_t nq = nq_.load(std::memory_order_acquire);
  if (nq == 0 || max == 0) return 0;
  std::uint32_t got = 0;
  for (std::uint32_t k = 0; k < nq && got < max; ++k) {
    std::uint32_t qi = (rx_next_ + k) % nq;
    Queue& q = q_[qi];
    if (q.rx_lock.test_and_set(std::memory_order_acquire)) continue;
    int vid = vid_.load(std::memory_order_acquire);
    if (vid < 0) {
      q.rx_lock.clear(std::memory_order_release);
      break;
    }
    std::uint32_t want = std::min<std::uint32_t>(max - got, kBurst);
    // Never take more from the guest than the worker's pool can hold.
    want = std::min<std::uint32_t>(want, static_cast<std::uint32_t>(pool.available()));
    if (want == 0) {
      q.rx_lock.clear(std::memory_order_release);
      break;
    }
    rte_mbuf* m[kBurst];
    std::uint16_t n = rte_vhost_dequeue_burst(vid, static_cast<std::uint16_t>(2 * qi + 1), pool_, m,
                                              static_cast<std::uint16_t>(want));
    q.rx_lock.clear(std::memory_order_release);
    got += take_mbufs(m, n, pool, out + got);
  }
  rx_next_ = (rx_next_ + 1) % nq;
  return got;
}

std::uint32_t VhostPort::take_mbufs(rte_mbuf** m, std::uint16_t n, FramePool& pool,
                                    Frame** out) noexcept {
  rte_mbuf* done[kBurst];
  std::uint32_t ndone = 0, got = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* mb = m[i];
    const std::uint32_t len = rte_pktmbuf_pkt_len(mb);
    Frame* f = nullptr;
    if (len > kMaxFrameLen && len <= kMaxBigFrameLen && mb->nb_segs == 1) {
      f = pool.alloc();  // lent (see the header)
      if (f != nullptr) {
        f->reset(len);
        f->data = rte_pktmbuf_mtod(mb, std::uint8_t*);
        f->ext = this;
        f->ext_handle = reinterpret_cast<std::uintptr_t>(mb);
        rx_lent_.add(1);
      }
    } else if (len != 0 && len <= kMaxBigFrameLen) {
      f = pool.alloc_for(len);
      if (f != nullptr) {
        // A pointer into a single-segment mbuf, or f->data after gathering a chain into it.
        const void* p = rte_pktmbuf_read(mb, 0, len, f->data);
        if (p != f->data) std::memcpy(f->data, p, len);
      }
    }
    if (f == nullptr || f->ext != this) done[ndone++] = mb;
    if (f == nullptr) {  // empty, too long, or no big buffer left to gather a chain into
      driver_drop(Drop::kOversize);
      continue;
    }
    if ((mb->ol_flags & (RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_LRO)) != 0) {
      const MbufOffload mo{mb->ol_flags, 0, 0, 0, static_cast<std::uint16_t>(mb->tso_segsz)};
      if (!offload_from_mbuf(mo, f->data, len, f->off) || !offload_ok(f->off)) {
        pool.free(f);  // a lent mbuf goes back with it
        driver_drop(Drop::kBadOffload);
        continue;
      }
      if (f->off.pending()) rx_offloaded_.add(1);
    }
    out[got++] = f;
  }
  if (ndone != 0) rte_pktmbuf_free_bulk(done, ndone);
  return got;
}

VhostPort::Fill VhostPort::fill_mbuf(Queue& q, rte_mbuf* m, const TxItem& it, std::uint8_t caps,
                                     std::uint32_t& tails) noexcept {
  Frame* f = it.frame;
  const int shift = tx_as_is(it) ? 0 : (it.push_vlan != 0 ? 4 : 0) - (it.pop_tag ? 4 : 0);
  const std::uint32_t wire = tx_wire_len(it);
  const std::uint32_t head = wire <= kTxCopyMax ? wire : kTxHead;
  const std::uint32_t pieces = (wire - head + kTxPiece - 1) / kTxPiece;
  if (tails + pieces > kTxTails) return Fill::kFull;
  MbufOffload mo;
  const TxOffload how = offload_to_mbuf(f->off, f->data, f->len, shift, caps, mo);
  if (how == TxOffload::kRefuse) return Fill::kRefuse;
  if (how == TxOffload::kLibrary && std::uint32_t{mo.l2_len} + mo.l3_len + mo.l4_len > head)
    return Fill::kRefuse;  // headers beyond the copied head: malformed
  std::uint8_t* d = reinterpret_cast<std::uint8_t*>(m->buf_addr) + RTE_PKTMBUF_HEADROOM;
  std::uint32_t rest;
  if (!vhost_tx_head(d, it, head, how == TxOffload::kSoftware, rest)) return Fill::kRefuse;
  m->data_off = RTE_PKTMBUF_HEADROOM;
  m->data_len = static_cast<std::uint16_t>(head);
  m->pkt_len = wire;
  m->nb_segs = 1;
  m->next = nullptr;
  m->ol_flags = mo.ol_flags;
  m->l2_len = mo.l2_len;
  m->l3_len = mo.l3_len;
  m->l4_len = mo.l4_len;
  m->tso_segsz = mo.tso_segsz;
  rte_mbuf* prev = m;
  for (std::uint32_t left = wire - head; left != 0;) {
    const std::uint32_t piece = std::min(left, kTxPiece);
    auto* sh = reinterpret_cast<rte_mbuf_ext_shared_info*>(q.tx_shinfo[tails]);
    sh->free_cb = no_free;
    sh->fcb_opaque = nullptr;
    rte_mbuf_ext_refcnt_set(sh, 1);
    rte_mbuf* t = q.tx_tails[tails++];
    rte_pktmbuf_attach_extbuf(t, f->data + rest, RTE_BAD_IOVA, static_cast<std::uint16_t>(piece),
                              sh);
    t->data_len = static_cast<std::uint16_t>(piece);
    t->pkt_len = piece;
    t->next = nullptr;
    prev->next = t;
    prev = t;
    ++m->nb_segs;
    rest += piece;
    left -= piece;
  }
  return Fill::kOk;
}

std::uint32_t VhostPort::tx_on_queue(std::uint32_t qi, const TxItem* items,
                                     std::uint32_t n) noexcept {
  // Caller holds q_[qi].tx_lock.
  int vid = vid_.load(std::memory_order_acquire);
  if (vid < 0) return 0;
  const std::uint8_t caps = vhost_tx_caps(features_.load(std::memory_order_acquire));
  Queue& q = q_[qi];
  std::uint32_t sent = 0;
  while (sent < n) {
    const std::uint32_t want = std::min<std::uint32_t>(n - sent, kBurst);
    std::uint32_t k = 0, tails = 0;
    Fill fill = Fill::kOk;
    for (; k < want; ++k) {
      fill = fill_mbuf(q, q.tx_mbufs[k], items[sent + k], caps, tails);
      if (fill != Fill::kOk) break;
    }
    const std::uint16_t done =
        k == 0 ? 0
               : rte_vhost_enqueue_burst(vid, static_cast<std::uint16_t>(2 * qi), q.tx_mbufs,
                                         static_cast<std::uint16_t>(k));
    // The library copied what it took; nothing may point into a Frame any more.
    for (std::uint32_t t = 0; t < tails; ++t) rte_pktmbuf_detach(q.tx_tails[t]);
    for (std::uint32_t i = 0; i < k; ++i) {
      q.tx_mbufs[i]->next = nullptr;
      q.tx_mbufs[i]->nb_segs = 1;
    }
    sent += done;
    // The guest's ring is full, or a frame this guest cannot take (see the header).
    if (k == 0 || done < k || fill == Fill::kRefuse) break;
  }
  return sent;
}

std::uint32_t VhostPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  std::uint32_t nq = nq_.load(std::memory_order_acquire);
  std::uint32_t sent = 0;
  if (nq != 0 && vid_.load(std::memory_order_relaxed) >= 0) {
    std::int32_t first = -1, chosen = -1;
    for (std::uint32_t qi = 0; qi < nq; ++qi) {
      if (!q_[qi].rx_enabled.load(std::memory_order_acquire)) continue;
      if (first < 0) first = static_cast<std::int32_t>(qi);
      if (!q_[qi].tx_lock.test_and_set(std::memory_order_acquire)) {
        chosen = static_cast<std::int32_t>(qi);
        break;
      }
    }
    if (chosen < 0 && first >= 0) {
      while (q_[first].tx_lock.test_and_set(std::memory_order_acquire)) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      chosen = first;
    }
    if (chosen >= 0) {
      std::uint32_t qi = static_cast<std::uint32_t>(chosen);
      sent = tx_on_queue(qi, items, n);
      q_[qi].tx_lock.clear(std::memory_order_release);
    }
  }
  if (sent < n) tx_refused_.fetch_add(n - sent, std::memory_order_relaxed);
  return sent;
}

}  // namespace brisk

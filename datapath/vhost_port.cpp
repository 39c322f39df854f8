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

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "datapath/dpdk_env.hpp"

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

// Offloads brisk does not carry between ports (see the header). Feature bits from the
// virtio specification (5.1.3); <linux/virtio_net.h> clashes with DPDK's headers.
constexpr std::uint64_t kWithdrawnFeatures =
    (1ULL << 0) /* CSUM */ | (1ULL << 1) /* GUEST_CSUM */ | (1ULL << 7) /* GUEST_TSO4 */ |
    (1ULL << 8) /* GUEST_TSO6 */ | (1ULL << 9) /* GUEST_ECN */ | (1ULL << 10) /* GUEST_UFO */ |
    (1ULL << 11) /* HOST_TSO4 */ | (1ULL << 12) /* HOST_TSO6 */ | (1ULL << 13) /* HOST_ECN */ |
    (1ULL << 14) /* HOST_UFO */;

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
  // One buffer per frame (a UMEM chunk / an mbuf): longer frames are dropped as oversize.
  set_tx_max(kMaxFrameLen + 4);
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
  // kBurst mbufs per queue pair for transmit, up to kBurst in flight for receive.
  unsigned n = kMaxQueuePairs * kBurst + 4 * kBurst;
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  SOCKET_ID_ANY);
  if (pool_ == nullptr)
    throw std::runtime_error("vhost port " + name + ": cannot create mbuf pool (" +
                             rte_strerror(rte_errno) + ")" +
                             (DpdkEnv::instance().hugepages() ? "" : std::string("; ") +
                                                                       DpdkEnv::hugepage_hint()));
  for (auto& q : q_) {
    if (rte_pktmbuf_alloc_bulk(pool_, q.tx_mbufs, kBurst) != 0) {
      rte_mempool_free(pool_);
      throw std::runtime_error("vhost port " + name + ": mbuf pool exhausted");
    }
  }

  std::uint64_t flags = opts_.server ? 0 : RTE_VHOST_USER_CLIENT;
  if (rte_vhost_driver_register(path.c_str(), flags) != 0) {
    for (auto& q : q_) rte_pktmbuf_free_bulk(q.tx_mbufs, kBurst);
    rte_mempool_free(pool_);
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
    for (auto& q : q_) rte_pktmbuf_free_bulk(q.tx_mbufs, kBurst);
    rte_mempool_free(pool_);
    throw std::runtime_error("vhost-user socket " + path + ": " + what);
  };
  if (rte_vhost_driver_disable_features(path.c_str(), kWithdrawnFeatures) != 0)
    fail("cannot set features");
  if (rte_vhost_driver_callback_register(path.c_str(), &g_ops) != 0)
    fail("cannot register callbacks");
  if (rte_vhost_driver_start(path.c_str()) != 0)
    fail(opts_.server ? "cannot listen (see the log)" : "cannot start the client");
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
  for (auto& q : q_) rte_pktmbuf_free_bulk(q.tx_mbufs, kBurst);
  rte_mempool_free(pool_);
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
  // brisk polls: the guest need not kick us.
  for (std::uint32_t v = 0; v < 2 * nq; ++v) rte_vhost_enable_guest_notification(vid, static_cast<std::uint16_t>(v), 0);
  nq_.store(nq, std::memory_order_release);
  vid_.store(vid, std::memory_order_release);
  connects_.fetch_add(1, std::memory_order_relaxed);
  syslog(LOG_INFO, "vhost %s: device %d ready on %s (%u queue pairs)", name().c_str(), vid,
         opts_.socket.c_str(), nq);
}

void VhostPort::on_destroy_device(int vid) noexcept {
  if (vid_.load(std::memory_order_acquire) != vid) return;
  vid_.store(-1, std::memory_order_release);
  quiesce_all();  // every worker that saw the old id has left the library
  for (auto& q : q_) q.rx_enabled.store(false);
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
    std::uint32_t oversize = 0;
    got += mbufs_to_frames(m, n, pool, out + got, oversize);
    if (oversize != 0) driver_drop(Drop::kOversize, oversize);
  }
  rx_next_ = (rx_next_ + 1) % nq;
  return got;
}

std::uint32_t VhostPort::tx_on_queue(std::uint32_t qi, const TxItem* items,
                                     std::uint32_t n) noexcept {
  // Caller holds q_[qi].tx_lock.
  int vid = vid_.load(std::memory_order_acquire);
  if (vid < 0) return 0;
  Queue& q = q_[qi];
  std::uint32_t sent = 0;
  while (sent < n) {
    std::uint32_t k = std::min<std::uint32_t>(n - sent, kBurst);
    for (std::uint32_t i = 0; i < k; ++i) {
      const TxItem& it = items[sent + i];
      rte_mbuf* m = q.tx_mbufs[i];
      std::uint8_t* d = reinterpret_cast<std::uint8_t*>(m->buf_addr) + RTE_PKTMBUF_HEADROOM;
      const std::uint32_t len = tx_copy(d, it);
      m->data_off = RTE_PKTMBUF_HEADROOM;
      m->data_len = static_cast<std::uint16_t>(len);
      m->pkt_len = len;
      m->nb_segs = 1;
      m->next = nullptr;
      m->ol_flags = 0;
    }
    std::uint16_t done = rte_vhost_enqueue_burst(vid, static_cast<std::uint16_t>(2 * qi),
                                                 q.tx_mbufs, static_cast<std::uint16_t>(k));
    sent += done;
    if (done < k) break;  // the guest's ring is full
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

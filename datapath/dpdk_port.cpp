#include "datapath/dpdk_port.hpp"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "datapath/dpdk_env.hpp"

namespace brisk {

namespace {
std::atomic<unsigned> g_pool_seq{0};
constexpr std::uint16_t kDescs = 1024;
}  // namespace

std::string DpdkPort::device_name(const std::string& devargs) {
  std::string name = devargs.substr(0, devargs.find(','));
  if (name.empty() || name.size() > 63) return "";
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '.' || c == '-'))
      return "";
  if (DpdkEnv::is_pci_address(name) && name.size() == 7) name = "0000:" + name;
  return name;
}

DpdkPort::DpdkPort(const std::string& devargs)
    : Port(device_name(devargs), PortKind::kSystem), devargs_(devargs) {
  // One buffer per frame (a UMEM chunk / an mbuf): longer frames are dropped as oversize.
  set_tx_max(kMaxFrameLen + 4);
  if (name().empty())
    throw std::runtime_error("invalid DPDK device '" + devargs +
                             "': want a PCI address (0000:03:00.0) or a vdev string (net_pcap0,iface=veth1)");
  bool pci = DpdkEnv::is_pci_address(name());
  if (!pci && name().rfind("net_", 0) != 0 && name().rfind("eth_", 0) != 0)
    throw std::runtime_error("invalid DPDK device '" + devargs +
                             "': want a PCI address or a vdev name starting with net_");
  DpdkEnv& env = DpdkEnv::instance();
  env.ensure_started(pci ? name() : "");
  auto hint = [&] { return env.hugepages() ? std::string() : std::string("; ") + DpdkEnv::hugepage_hint(); };

  std::uint16_t pid = 0;
  if (rte_eth_dev_get_port_by_name(name().c_str(), &pid) == 0 && !pci)
    throw std::runtime_error("DPDK device " + name() + " is already in use");
  int rc = rte_dev_probe(devargs.c_str());
  if (rc != 0 && rc != -EEXIST)
    throw std::runtime_error("DPDK cannot attach " + devargs + ": " + rte_strerror(-rc) +
                             " (unknown driver, bad arguments, or device not bound to vfio-pci)" + hint());
  probed_ = true;
  if (rte_eth_dev_get_port_by_name(name().c_str(), &pid) != 0) {
    teardown();
    throw std::runtime_error("DPDK device " + name() + " attached but is not an ethernet port");
  }
  port_id_ = pid;
  auto fail = [&](const std::string& what, int err) {
    teardown();
    throw std::runtime_error("DPDK port " + name() + ": " + what + ": " + rte_strerror(err < 0 ? -err : err) + hint());
  };
  rte_eth_dev_info info{};
  if ((rc = rte_eth_dev_info_get(port_id_, &info)) != 0) fail("device info", rc);
  if (info.driver_name != nullptr) driver_name_ = info.driver_name;
  std::uint16_t nrx = kDescs, ntx = kDescs;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id_, &nrx, &ntx);

  std::string pool_name = "brisk_dp" + std::to_string(g_pool_seq.fetch_add(1));
  unsigned n = static_cast<unsigned>(nrx) + ntx + 4 * kBurst + 512;
  int sock = rte_eth_dev_socket_id(port_id_);
  if (sock < 0) sock = SOCKET_ID_ANY;
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, sock);
  if (pool_ == nullptr) fail("cannot create mbuf pool", rte_errno);

  rte_eth_conf conf{};
  if ((rc = rte_eth_dev_configure(port_id_, 1, 1, &conf)) != 0) fail("configure", rc);
  auto sock_id = static_cast<unsigned>(sock);
  if ((rc = rte_eth_rx_queue_setup(port_id_, 0, nrx, sock_id, nullptr, pool_)) != 0)
    fail("rx queue setup", rc);
  if ((rc = rte_eth_tx_queue_setup(port_id_, 0, ntx, sock_id, nullptr)) != 0)
    fail("tx queue setup", rc);
  if ((rc = rte_eth_dev_start(port_id_)) != 0) fail("start", rc);
  started_ = true;
  rte_eth_promiscuous_enable(port_id_);  // not every driver has it (net_null, net_pcap)
}

DpdkPort::~DpdkPort() { teardown(); }

void DpdkPort::describe(DriverFigures& out) const {
  add_text(out, "", "dpdk_driver", driver_name());
  add_counter(out, "", "tx_refused", tx_refused());
}

void DpdkPort::teardown() noexcept {
  if (probed_) {
    rte_eth_dev_info info{};
    rte_device* dev = nullptr;
    if (rte_eth_dev_info_get(port_id_, &info) == 0) dev = info.device;
    if (started_) rte_eth_dev_stop(port_id_);
    started_ = false;
    rte_eth_dev_close(port_id_);
    if (dev != nullptr) rte_dev_remove(dev);
    probed_ = false;
  }
  if (pool_ != nullptr) rte_mempool_free(pool_);
  pool_ = nullptr;
}

std::uint32_t DpdkPort::rx_burst(FramePool& pool, Frame** out, std::uint32_t max) noexcept {
  std::uint32_t want = std::min<std::uint32_t>(
      {max, kBurst, static_cast<std::uint32_t>(pool.available())});
  if (want == 0) return 0;
  rte_mbuf* m[kBurst];
  std::uint16_t n = rte_eth_rx_burst(port_id_, 0, m, static_cast<std::uint16_t>(want));
  std::uint32_t oversize = 0;
  const std::uint32_t got = mbufs_to_frames(m, n, pool, out, oversize);
  if (oversize != 0) driver_drop(Drop::kOversize, oversize);
  return got;
}

std::uint32_t DpdkPort::tx_burst(const TxItem* items, std::uint32_t n) noexcept {
  std::uint32_t sent = 0;
  while (tx_lock_.test_and_set(std::memory_order_acquire)) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  while (sent < n) {
    std::uint32_t k = std::min<std::uint32_t>(n - sent, kBurst);
    rte_mbuf* m[kBurst];
    if (rte_pktmbuf_alloc_bulk(pool_, m, k) != 0) break;
    for (std::uint32_t i = 0; i < k; ++i) {
      const TxItem& it = items[sent + i];
      std::uint8_t* d = rte_pktmbuf_mtod(m[i], std::uint8_t*);
      const std::uint32_t len = tx_copy(d, it);
      m[i]->data_len = static_cast<std::uint16_t>(len);
      m[i]->pkt_len = len;
    }
    std::uint16_t done = rte_eth_tx_burst(port_id_, 0, m, static_cast<std::uint16_t>(k));
    if (done < k) rte_pktmbuf_free_bulk(m + done, k - done);
    sent += done;
    if (done < k) break;
  }
  tx_lock_.clear(std::memory_order_release);
  if (sent < n) tx_refused_.fetch_add(n - sent, std::memory_order_relaxed);
  return sent;
}

}  // namespace brisk

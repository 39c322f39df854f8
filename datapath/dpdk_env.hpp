// DpdkEnv: brisk's ownership of the DPDK environment (EAL), shared by DPDK ports
// (dpdk_port.hpp) and vhost-user ports (vhost_port.hpp).
//
// Lifecycle
// ---------
// * The EAL is started lazily, by the first DPDK or vhost-user port (ensure_started()), never
//   at briskd start: a host with only taps and AF_XDP ports loads no DPDK and needs no
//   hugepages. rte_eal_init() runs once per process; a failure is remembered and reported to
//   every later attempt (DPDK cannot be initialised twice: restart briskd after fixing it).
// * EAL arguments: `--in-memory` with hugepages (no files under /var/run/dpdk, nothing left
//   behind by a crash, several briskd instances and other DPDK programs coexist; without
//   hugepages `--no-shconf`, as --no-huge refuses --in-memory), `--file-prefix=brisk<pid>`
//   (its empty runtime directory under /var/run/dpdk is removed at exit), `--no-telemetry`,
//   and
//   `--lcores 0@(<cpus>)`: the EAL's one lcore is the calling (control) thread with its
//   current CPU set, so the EAL pins nothing and creates no lcore threads of its own. brisk's
//   worker threads call the rx/tx functions as non-EAL threads (rte_lcore_id() ==
//   LCORE_ID_ANY): mempools are created without per-lcore caches and every mempool, ethdev
//   queue and vhost queue brisk uses is either used by one thread or guarded by a lock the
//   port holds (see the port headers), so no rte_thread_register() is needed.
// * PCI: `--no-pci` unless the port that starts the EAL is a PCI address; then only that
//   address is allowed (`-a`) and later PCI ports are hot-plugged with rte_dev_probe(). A
//   PCI port added after the EAL started without PCI is refused with an error that says so.
// * Memory: hugepages when the kernel has free ones (HugePages_Free > 0, dynamic memory,
//   hugetlbfs or memfd; no mount needed), otherwise the EAL starts with `--no-huge -m 256`:
//   enough for vhost-user ports (brisk is the vhost back end: the guest's memory is the
//   guest's own shared file, brisk's mbufs are private) and for vdevs like net_pcap,
//   net_null, net_ring. PCI NICs and some vdevs need hugepages: when the EAL or a device
//   fails without them, the error says how to reserve them (and that briskd must restart,
//   since the EAL's memory mode is fixed at its start).
// * Logging: DPDK's own messages go to stderr and syslog at level notice and above
//   (`--log-level=*:notice`; vhost-user's per-message chatter is info).
// * Extra EAL arguments from the environment variable BRISK_EAL_ARGS (space separated), e.g.
//   `--log-level=*:debug` or `-d <pmd.so>`.
//
// Threading: every member is called on the control thread (port construction/destruction).
// The internal mutex only guards against tests calling from other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "datapath/frame.hpp"

struct rte_mbuf;

namespace brisk {

// Receive side shared by DpdkPort and VhostPort (worker thread): copy `n` received mbufs
// into frames from `pool` (whole chains gathered), stored in out[]; frames that are empty or
// longer than kMaxFrameLen are dropped and added to `oversize` (the caller charges them to
// its port's `oversize` drop). Frees every mbuf. The caller caps n by pool.available().
// Returns the frames produced.
std::uint32_t mbufs_to_frames(rte_mbuf** m, std::uint16_t n, FramePool& pool, Frame** out,
                              std::uint32_t& oversize) noexcept;

class DpdkEnv {
 public:
  static DpdkEnv& instance();

  // Starts the EAL if it is not running. `pci_addr`: the PCI device that starts it (empty:
  // none, --no-pci). Throws std::runtime_error with a one-line message on failure.
  void ensure_started(const std::string& pci_addr = "");

  bool started() const { return started_; }
  bool pci_enabled() const { return pci_; }
  bool hugepages() const { return huge_; }
  // rte_eal_init() calls openlog() with its own ident and options; these are restored
  // right after it (briskd logs to stderr as well as syslog). ident must outlive the EAL.
  void set_syslog(const char* ident, int option, int facility) {
    log_ident_ = ident;
    log_option_ = option;
    log_facility_ = facility;
  }
  // The EAL arguments used (for logs and tests).
  const std::string& args() const { return args_text_; }

  // "0000:03:00.0" or "03:00.0": a PCI address rather than a vdev string.
  static bool is_pci_address(const std::string& dev);
  // Free default-size hugepages according to /proc/meminfo (0 when none or unreadable).
  static unsigned long free_hugepages();
  // A hint for error messages: how to reserve hugepages.
  static const char* hugepage_hint();

 private:
  DpdkEnv() = default;
  bool started_ = false;
  bool pci_ = false;
  bool huge_ = false;
  std::string failed_;  // non-empty: rte_eal_init failed with this message
  std::string args_text_;
  const char* log_ident_ = nullptr;
  int log_option_ = 0;
  int log_facility_ = 0;
};

}  // namespace brisk

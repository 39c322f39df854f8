#include "datapath/dpdk_env.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <syslog.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace brisk {

namespace {
std::mutex g_mu;

std::string cpu_list(const cpu_set_t& set) {
  std::string s;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    int e = c;
    while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set)) ++e;
    if (!s.empty()) s += ',';
    s += std::to_string(c);
    if (e > c) {  // two appends: GCC 12's -Wrestrict misfires on "-" + std::to_string(e)
      s += '-';
      s += std::to_string(e);
    }
    c = e;
  }
  return s;
}
}  // namespace

std::uint32_t mbufs_to_frames(rte_mbuf** m, std::uint16_t n, FramePool& pool, Frame** out,
                              std::uint32_t& oversize) noexcept {
  std::uint32_t got = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    std::uint32_t len = rte_pktmbuf_pkt_len(m[i]);
    if (len > kMaxFrameLen || len == 0) {
      ++oversize;
      continue;
    }
    Frame* f = pool.alloc();
    if (f == nullptr) break;  // cannot happen: n was capped by the pool
    f->reset(len);
    // A pointer into a single-segment mbuf, or f->data after gathering a chain into it.
    const void* p = rte_pktmbuf_read(m[i], 0, len, f->data);
    if (p != f->data) std::memcpy(f->data, p, len);
    out[got++] = f;
  }
  if (n != 0) rte_pktmbuf_free_bulk(m, n);
  return got;
}

DpdkEnv& DpdkEnv::instance() {
  static DpdkEnv env;
  return env;
}

// [DDDD:]BB:DD.F with hex digits and a function 0-7 (no std::regex: GCC 12 warns inside it
// under ASan at -O3, and -Werror turns that into a build failure).
bool DpdkEnv::is_pci_address(const std::string& dev) {
  std::string_view s = dev;
  if (s.size() == 12) {
    if (s[4] != ':') return false;
    for (char c : s.substr(0, 4))
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    s.remove_prefix(5);
  }
  return s.size() == 7 && std::isxdigit(static_cast<unsigned char>(s[0])) &&
         std::isxdigit(static_cast<unsigned char>(s[1])) && s[2] == ':' &&
         std::isxdigit(static_cast<unsigned char>(s[3])) &&
         std::isxdigit(static_cast<unsigned char>(s[4])) && s[5] == '.' && s[6] >= '0' &&
         s[6] <= '7';
}

unsigned long DpdkEnv::free_hugepages() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  unsigned long v = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    if (ls >> key >> v && key == "HugePages_Free:") return v;
  }
  return 0;
}

const char* DpdkEnv::hugepage_hint() {
  return "DPDK is running without hugepages and this may need them: reserve some "
         "(echo 512 > /proc/sys/vm/nr_hugepages) and restart briskd";
}

void DpdkEnv::ensure_started(const std::string& pci_addr) {
  std::lock_guard<std::mutex> g(g_mu);
  if (!failed_.empty()) throw std::runtime_error(failed_);
  if (started_) {
    if (!pci_addr.empty() && !pci_)
      throw std::runtime_error("DPDK was started without PCI support (the first DPDK port was not "
                               "a PCI device); restart briskd and add the PCI port first");
    return;
  }
  cpu_set_t saved;
  CPU_ZERO(&saved);
  bool have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
  std::vector<std::string> args = {"brisk", "--no-telemetry", "--log-level=*:notice",
                                   "--file-prefix=brisk" + std::to_string(::getpid())};
  if (have_saved) args.push_back("--lcores=0@(" + cpu_list(saved) + ")");
  if (pci_addr.empty()) {
    args.push_back("--no-pci");
  } else {
    args.push_back("-a");
    args.push_back(pci_addr);
  }
  huge_ = free_hugepages() > 0;
  if (huge_) {
    args.push_back("--in-memory");
  } else {
    // --no-huge implies legacy memory, which --in-memory refuses: no shared config instead.
    args.push_back("--no-huge");
    args.push_back("--no-shconf");
    args.push_back("-m");
    args.push_back("256");
  }
  if (const char* extra = std::getenv("BRISK_EAL_ARGS")) {
    std::istringstream ss(extra);
    std::string w;
    while (ss >> w) args.push_back(w);
  }
  args_text_.clear();
  for (auto& a : args) args_text_ += (args_text_.empty() ? "" : " ") + a;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
  // The EAL sets the calling thread's affinity to its lcore's CPU set; give the control
  // thread back the set it had (normally the same set).
  if (have_saved) pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
  if (log_ident_ != nullptr) openlog(log_ident_, log_option_, log_facility_);
  if (rc < 0) {
    failed_ = std::string("DPDK failed to start (rte_eal_init: ") + rte_strerror(rte_errno) +
              "; EAL arguments: " + args_text_ + "; see the log)" +
              (huge_ ? "" : "; without hugepages; reserve some: echo 512 > /proc/sys/vm/nr_hugepages") +
              "; DPDK starts once per process: restart briskd";
    throw std::runtime_error(failed_);
  }
  started_ = true;
  pci_ = !pci_addr.empty();
  // The EAL creates an (empty, in these modes) runtime directory /var/run/dpdk/<prefix>.
  std::atexit([] { ::rmdir(rte_eal_get_runtime_dir()); });
  syslog(LOG_INFO, "DPDK started (%s): %s", huge_ ? "hugepages" : "no hugepages", args_text_.c_str());
}

}  // namespace brisk

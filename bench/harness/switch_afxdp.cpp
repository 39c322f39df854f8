// switch_afxdp: the bare AF_XDP forwarder (afxdp_forwarder.hpp) under test (switches.hpp):
// this program run again as `brisk-bench --afxdp-forwarder`, on the switch CPU. Switch
// topology only.
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "bench/harness/proc.hpp"
#include "bench/harness/switch_common.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {
namespace {

class BareAfXdp final : public SwitchUnderTest {
 public:
  BareAfXdp(const Topology& t, const SwitchConfig& c) : t_(t), c_(c) {}
  std::string name() const override { return "afxdp"; }
  std::vector<pid_t> pids() const override { return {pid_}; }
  std::string describe() const override {
    return "bare AF_XDP forwarder (shared UMEM, no copies in userspace) on CPU " +
           std::to_string(t_.switch_cpu);
  }
  void start() override {
    log_ = t_.workdir + "/afxdp.log";
    unlink(log_.c_str());  // this run's lines only
    pid_ = spawn({c_.self_exe, "--afxdp-forwarder", t_.gen_port, t_.sink_port,
                  std::to_string(t_.switch_cpu), c_.brisk_xdp_obj},
                 {log_, {}, c_.nice});
    for (int i = 0; i < 100; ++i) {
      if (!alive(pid_))
        throw std::runtime_error("AF_XDP forwarder exited: " + tail(read_file(log_)));
      if (read_file(log_).find(" on CPU") != std::string::npos) return;
      sleep_s(0.05);
    }
    throw std::runtime_error("AF_XDP forwarder did not start: " + tail(read_file(log_)));
  }
  void stop() noexcept override {
    if (pid_ > 0) {
      try {
        bench::stop(pid_, 5);
      } catch (...) {
      }
      pid_ = -1;
      // The forwarder's socket statistics (XDP_STATISTICS), for the progress log.
      std::istringstream is(read_file(log_));
      for (std::string line; std::getline(is, line);)
        if (line.find("rx_dropped") != std::string::npos)
          std::fprintf(stderr, "  %s\n", line.c_str());
    }
    xdp_detach("", t_.gen_port);
    xdp_detach("", t_.sink_port);
  }

 private:
  Topology t_;
  SwitchConfig c_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace

std::unique_ptr<SwitchUnderTest> make_afxdp(const Topology& t, const SwitchConfig& c) {
  return std::make_unique<BareAfXdp>(t, c);
}

}  // namespace bench

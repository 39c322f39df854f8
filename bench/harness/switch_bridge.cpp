// switch_bridge: the Linux bridge under test (switches.hpp). Per Side a bridge <P>br with the
// host ends as ports and, on the vxlan topology, a kernel vxlan device <P>vx on the underlay.
#include "bench/harness/proc.hpp"
#include "bench/harness/switch_common.hpp"
#include "bench/harness/xdp_traffic.hpp"

namespace bench {
namespace {

class KernelBridge final : public SwitchUnderTest {
 public:
  KernelBridge(const Topology& t, const SwitchConfig& c)
      : t_(t), c_(c), sides_(sides_of(t)), br_(t.prefix + "br"), vx_(t.prefix + "vx") {}
  std::string name() const override { return "bridge"; }
  std::string describe() const override {
    std::string d = "Linux bridge, softirq on the receiving CPU; " +
                    (c_.pass_prog_fd >= 0 ? "bench_pass XDP on " + t_.gen_port
                                          : std::string("no XDP program on its ports"));
    if (t_.vxlan)
      d += "; per tunnel end a bridge and a kernel vxlan device (VNI " + std::to_string(t_.vni) +
           ", dstport 4789, MTU 1500)";
    return d;
  }
  void start() override {
    for (const Side& sd : sides_) {
      run_ok(ip_in(sd.ns, {"link", "add", br_, "type", "bridge"}));
      disable_ipv6(sd.ns, br_);
      run_ok(ip_in(sd.ns, {"link", "set", br_, "up"}));
      for (const auto& port : sd.ports) run_ok(ip_in(sd.ns, {"link", "set", port, "master", br_}));
      if (t_.vxlan) {
        run_ok(ip_in(
            sd.ns, {"link", "add", vx_, "type", "vxlan", "id", std::to_string(t_.vni), "local",
                    sd.local_ip, "remote", sd.remote_ip, "dstport", "4789", "dev", sd.under_dev}));
        disable_ipv6(sd.ns, vx_);
        run_ok(ip_in(sd.ns, {"link", "set", vx_, "mtu", "1500"}));
        run_ok(ip_in(sd.ns, {"link", "set", vx_, "master", br_}));
        run_ok(ip_in(sd.ns, {"link", "set", vx_, "up"}));
      }
    }
    if (c_.pass_prog_fd >= 0) xdp_attach(t_.gen_port_ns, t_.gen_port, c_.pass_prog_fd);
  }
  void stop() noexcept override {
    if (c_.pass_prog_fd >= 0) xdp_detach(t_.gen_port_ns, t_.gen_port);
    for (const Side& sd : sides_) {
      try {
        if (t_.vxlan) run(ip_in(sd.ns, {"link", "del", vx_}), nullptr, 10);
        run(ip_in(sd.ns, {"link", "del", br_}), nullptr, 10);
      } catch (...) {
      }
    }
  }

 private:
  Topology t_;
  SwitchConfig c_;
  std::vector<Side> sides_;
  std::string br_, vx_;
};

}  // namespace

std::unique_ptr<SwitchUnderTest> make_bridge(const Topology& t, const SwitchConfig& c) {
  return std::make_unique<KernelBridge>(t, c);
}

}  // namespace bench

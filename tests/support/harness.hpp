// Harness: a real Switch (control model + snapshot builder) and the real pipeline over memory
// ports, driven synchronously by the test thread with an injected clock. No worker threads:
// the test plays the worker (poll_port) and the control thread (Switch::tick).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "control/commands.hpp"
#include "control/switch.hpp"
#include "datapath/memory_port.hpp"
#include "datapath/worker.hpp"

namespace brisk::test {

class Harness {
 public:
  // `options` may change the SwitchOptions, e.g. bridge_interface = false: bridges get no own
  // interface and `tap create ... ip|dhcp` touches nothing on the host (the command fuzzer
  // runs arbitrary commands).
  explicit Harness(const std::string& bridge = "tbr0", unsigned workers = 1,
                   const std::function<void(SwitchOptions&)>& options = {})
      : dp_(workers) {
    SwitchOptions o;
    o.default_bridge = bridge;
    o.tap_prefix = "tt";
    o.make_port = [this](const PortSpec& spec) -> std::shared_ptr<Port> {
      if (spec.kind == PortKind::kSystem && !system_drivers.count(spec.driver))
        throw std::runtime_error("driver " + spec.driver + " unavailable for " + spec.name);
      auto p = std::make_shared<MemoryPort>(spec.name);
      mem_[spec.name] = p;
      return p;
    };
    if (options) options(o);
    sw_ = std::make_unique<Switch>(dp_, o);
    cmds_ = std::make_unique<CommandSet>(*sw_);
    sw_->tick(now_);
    Reply r = sw_->ensure_bridge(bridge);
    if (!r.ok) throw std::runtime_error(r.text);
  }

  Reply cmd(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> argv;
    for (std::string w; in >> w;) argv.push_back(w);
    return cmds_->run(argv);
  }
  // The words as they are (names with spaces or control characters).
  Reply run(const std::vector<std::string>& argv) { return cmds_->run(argv); }

  MemoryPort& port(const std::string& name) { return *mem_.at(name); }
  Switch& sw() { return *sw_; }
  Datapath& dp() { return dp_; }

  // Inject a frame on `port` and run workers and control until everything is processed.
  void send(const std::string& p, std::vector<std::uint8_t> frame) {
    port(p).inject(std::move(frame));
    pump();
  }
  void pump() {
    for (int round = 0; round < 3; ++round) {
      for (unsigned w = 0; w < dp_.workers(); ++w) {
        const Snapshot* s = dp_.snapshots().current();
        WorkerContext& ctx = dp_.context(w);
        ctx.now = now_;
        ctx.now_ns = std::uint64_t{now_} * 1000000000ull;
        for (PortId id : s->rx_by_worker[w]) poll_port(ctx, *s, id, 64);
      }
      sw_->tick(now_);
    }
  }
  void advance(std::uint32_t seconds) {
    now_ += seconds;
    sw_->tick(now_);
  }
  std::uint32_t now() const { return now_; }
  // Drivers the fake factory accepts for system ports (memory ports stand in for them).
  std::set<std::string> system_drivers = {"afxdp", "afpacket"};

  // Frames each port sent since the last call, by port name.
  std::map<std::string, std::vector<std::vector<std::uint8_t>>> sent() {
    std::map<std::string, std::vector<std::vector<std::uint8_t>>> out;
    for (auto& [name, p] : mem_) {
      auto v = p->take_sent();
      if (!v.empty()) out[name] = std::move(v);
    }
    return out;
  }
  PortTotals totals(const std::string& name) { return sw_->totals(sw_->ports().at(name)); }
  // Forget the memory ports the switch no longer has (long fuzzing runs create many).
  void prune() {
    for (auto it = mem_.begin(); it != mem_.end();)
      it = sw_->ports().count(it->first) ? std::next(it) : mem_.erase(it);
  }
  // Names of the memory ports the switch has now.
  std::vector<std::string> port_names() const {
    std::vector<std::string> v;
    for (auto& [name, p] : mem_)
      if (sw_->ports().count(name)) v.push_back(name);
    return v;
  }

 private:
  Datapath dp_;
  std::map<std::string, std::shared_ptr<MemoryPort>> mem_;
  std::unique_ptr<Switch> sw_;
  std::unique_ptr<CommandSet> cmds_;
  std::uint32_t now_ = 1000;
};

}  // namespace brisk::test

// OvsdbClient: briskd as ovs-vswitchd's replacement on a real ovsdb-server (`briskd --ovsdb
// unix:PATH|tcp:IP:PORT`). The server and its clients (ovs-vsctl, libvirt, minimega) are Open
// vSwitch's own; the database has Open vSwitch's schema (vswitch.ovsschema).
//
// What it does, as ovs-vswitchd does:
//   * monitors ("monitor", RFC 7047 4.1.5) the configuration columns of Open_vSwitch, Bridge,
//     Port, Interface, Mirror, QoS and Queue, and keeps a replica (control/ovsdb_replica.hpp);
//   * after the initial rows and after every update, reconciles brisk to the replica
//     (control/ovsdb_reconcile.hpp), then writes back in one transaction: each Interface's
//     ofport, error, status (how its rate limits are realised), admin_state, link_state,
//     mac_in_use, mtu and ifindex where they changed, each Bridge's status (mirror errors),
//     Open_vSwitch iface_types (what brisk realises), and Open_vSwitch cur_cfg = next_cfg
//     last, which is what ovs-vsctl waits for (so it returns without --no-wait once brisk
//     has applied);
//   * writes Interface statistics (rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped,
//     tx_dropped) and Mirror statistics (tx_packets) every kOvsdbStatsPeriod, as OVS does;
//   * reconciles again once a second, so rows in error are retried (a device that appears);
//   * answers the server's "echo" requests.
// When the connection fails or the server goes away, brisk keeps forwarding with what it has
// (nothing is removed while disconnected) and reconnects, waiting 0.25 s, then doubling up to
// 8 s between attempts; a new connection starts from the server's rows again (a full re-sync:
// rows gone meanwhile are removed, new ones made, everything written back again).
//
// Threading: everything runs on the control thread. briskd polls fd() in the control server's
// loop (Server::watch) and calls on_readable() when it has input, and tick() on every loop
// iteration (at least every 5 ms). The client calls the Switch directly, as native commands
// do, and shares nothing with the workers except through the Switch (its counters are read
// with the Switch's own relaxed loads). Nothing it does ends briskd: an exception (a bug, an
// allocation failure) drops the session, which reconnects and re-syncs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "control/ovsdb_reconcile.hpp"
#include "control/ovsdb_replica.hpp"
#include "control/ovsdb_rpc.hpp"
#include "control/switch.hpp"

namespace brisk {

inline constexpr std::chrono::seconds kOvsdbStatsPeriod{5};
inline constexpr std::chrono::seconds kOvsdbRetryPeriod{1};
inline constexpr std::chrono::milliseconds kOvsdbBackoffMin{250};
inline constexpr std::chrono::milliseconds kOvsdbBackoffMax{8000};

class OvsdbClient {
 public:
  using Clock = std::chrono::steady_clock;
  OvsdbClient(Switch& sw, std::string remote);

  // The socket to poll for input; -1 while not connected (or still connecting).
  int fd() const { return rpc_.open() && !rpc_.connecting() ? rpc_.fd() : -1; }
  void on_readable();
  void tick();
  // Connected and the initial rows are applied.
  bool synced() const { return phase_ == Phase::kSynced; }
  std::uint64_t connects() const { return connects_; }

 private:
  enum class Phase { kIdle, kConnecting, kMonitoring, kSynced };
  void step();  // tick()'s work
  void try_connect(Clock::time_point now);
  void lost(const std::string& why);
  void handle(const nlohmann::json& msg);
  void apply_and_write(bool stats);
  nlohmann::json interface_ops(bool stats);
  nlohmann::json mirror_ops();
  void transact(nlohmann::json ops);

  Switch& sw_;
  OvsdbRpc rpc_;
  OvsdbReplica db_;
  OvsdbReconciler rec_;
  Phase phase_ = Phase::kIdle;
  std::uint64_t monitor_id_ = 0;
  std::uint64_t connects_ = 0;
  std::chrono::milliseconds backoff_ = kOvsdbBackoffMin;
  Clock::time_point next_attempt_{};
  Clock::time_point next_retry_{}, next_stats_{};
  std::string last_error_;  // the last connection error logged (not repeated)
  // What was last written, so only changes are sent: Interface uuid -> its status columns,
  // Bridge uuid -> status, and the cur_cfg written.
  std::map<std::string, nlohmann::json> written_iface_;
  std::map<std::string, nlohmann::json> written_bridge_;
  std::int64_t written_cfg_ = -1;
};

}  // namespace brisk

// libFuzzer target: what an OVSDB server sends briskd --ovsdb (control/ovsdb_rpc.hpp,
// control/ovsdb_replica.hpp, control/ovsdb_reconcile.hpp). The input is a byte stream split
// into JSON messages as the client splits them; each message that is a <table-updates> object
// is applied to the replica and brisk is reconciled to it (a real Switch with memory ports,
// no bridge interfaces: nothing on the host is touched).
//
// Checked beyond the sanitizers:
//   * nothing throws; a malformed update is refused with a reason and changes nothing
//   * every Interface row has a state: realised, or an error saying why not
//   * when every row is gone, every object the reconciler made is gone too (bridges, ports,
//     mirrors owned by ovsdb), and the native bridge is untouched
#include <syslog.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "control/ovsdb_reconcile.hpp"
#include "control/ovsdb_replica.hpp"
#include "control/ovsdb_rpc.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using json = nlohmann::json;

[[noreturn]] void die(const std::string& what) { brisk::fuzz::die("fuzz_ovsdb", what); }

void check_states(const brisk::OvsdbReconciler& rec) {
  for (auto& [uuid, st] : rec.interfaces())
    if (!st.realised && st.error.empty())
      die("interface " + uuid + " neither realised nor in error");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setlogmask(LOG_MASK(LOG_EMERG));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string buf(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> msgs;
  (void)brisk::split_json_stream(buf, msgs, 1 << 16);
  brisk::test::Harness& h = brisk::fuzz::harness();
  brisk::OvsdbReplica db;
  brisk::OvsdbReconciler rec(h.sw());
  try {
    for (const std::string& m : msgs) {
      json j = json::parse(m, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) continue;
      if (std::string e = db.apply(j); !e.empty()) {
        if (e.find('\n') != std::string::npos) die("multi-line error: " + e);
        continue;
      }
      rec.reconcile(db);
      check_states(rec);
    }
    db.clear();
    rec.reconcile(db);
  } catch (const std::exception& e) {
    die(std::string("threw: ") + e.what());
  }
  for (auto& [name, b] : h.sw().bridges())
    if (b.owner == brisk::Owner::kOvsdb) die("bridge " + name + " left after its row went");
  for (auto& [name, p] : h.sw().ports())
    if (p.owner == brisk::Owner::kOvsdb) die("port " + name + " left after its row went");
  for (const brisk::MirrorModel& m : h.sw().mirrors())
    if (m.owner == brisk::Owner::kOvsdb) die("mirror to " + m.dst + " left after its row went");
  if (!h.sw().bridges().count("fzbr")) die("the native bridge went");
  h.sw().nuke();
  return 0;
}

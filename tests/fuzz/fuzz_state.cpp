// libFuzzer target: the state loader (control/state_file.hpp, control/state.hpp) on arbitrary
// state file text: its depth, size, JSON types and values, replayed into a real Switch with
// memory ports (no bridge interfaces: nothing on the host is touched).
//
// Checked beyond the sanitizers:
//   * a text that is refused gets one non-empty line saying why (parse_state_text)
//   * replaying never throws, and every entry is either applied or kept pending
//   * what the store would write after the replay is read back without a problem (briskd
//     never writes a state file it would refuse at the next start)
//   * undo (reconcile_state) is exact: after `nuke`, reconciling to the replayed
//     configuration gives it back with no failures
// System ports that ask for AF_XDP are replayed as AF_PACKET: replaying an "afxdp" entry
// detaches brisk's XDP and tc programs from the host interface of that name
// (detach_stale_brisk_programs), which a fuzzer must not do to the host.
#include <syslog.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "control/state.hpp"
#include "control/state_file.hpp"
#include "fuzz/fuzz_support.hpp"
#include "support/harness.hpp"

namespace {

using brisk::test::Harness;
using json = nlohmann::json;

[[noreturn]] void die(const std::string& what) { brisk::fuzz::die("fuzz_state", what); }

void no_afxdp(json& doc) {
  if (!doc.contains("ports") || !doc["ports"].is_array()) return;
  for (auto& e : doc["ports"])
    if (e.is_object() && e.contains("driver") && e["driver"] == "afxdp") e["driver"] = "afpacket";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setlogmask(LOG_MASK(LOG_EMERG));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  brisk::StateParse p = brisk::parse_state_text(text);
  if (!p.problem.empty()) {
    if (p.problem.find('\n') != std::string::npos) die("multi-line problem: " + p.problem);
    return 0;
  }
  no_afxdp(p.doc);
  Harness& h = brisk::fuzz::harness();
  brisk::StateStore store("");
  brisk::ReplayReport rep;
  try {
    rep = store.replay(h.sw(), p.doc);
  } catch (const std::exception& e) {
    die(std::string("replay threw: ") + e.what());
  }
  std::size_t entries = 0;
  for (const auto& sec : brisk::state_sections())
    if (p.doc.contains(sec.name) && p.doc[sec.name].is_array()) entries += p.doc[sec.name].size();
  if (rep.applied + store.pending_count() != entries)
    die(std::to_string(entries) + " entries, " + std::to_string(rep.applied) + " applied, " +
        std::to_string(store.pending_count()) + " pending");
  json written = store.compose(h.sw());
  brisk::StateParse back = brisk::parse_state_text(brisk::state_text(written));
  if (!back.problem.empty()) die("the state briskd would write is refused: " + back.problem);
  json live = brisk::dump_state(h.sw());
  if (!h.cmd("nuke").ok) die("nuke failed");
  for (const auto& f : brisk::reconcile_state(h.sw(), live))
    die("undo failed: " + f.section + " " + f.entry.dump() + ": " + f.error);
  if (brisk::dump_state(h.sw()) != live)
    die("undo is not exact: " + brisk::dump_state(h.sw()).dump() + " != " + live.dump());
  if (!h.cmd("nuke").ok) die("nuke failed");
  h.prune();
  h.pump();  // old snapshots reclaimed
  return 0;
}

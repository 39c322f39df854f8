// Durable commands (control/state.hpp, "Durable commands"): a command whose change cannot be
// written to the state file is undone and refused; reconcile_state() brings a switch back to
// an earlier document whatever the commands in between did.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control/state.hpp"
#include "support/harness.hpp"
#include "support/temp_dir.hpp"

namespace brisk::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string undo_listing(Harness& h) {
  std::string s;
  for (const char* c : {"tap", "bridge", "port", "fdb", "port security", "tap mirror"})
    s += h.cmd(c).text + "\n";
  return s;
}

// Something of every section, on two bridges.
const char* const kConfig[] = {
    "tap create 10 name u_a",
    "tap create LAN name u_b",
    "tap create 20 bridge u_br2 name u_c",
    "port add u_sys1 vlan 10",
    "port add u_sys2 trunk 10,20-22 native 5 driver afpacket",
    "bridge config u_br2 fdb-limit=1000",
    "bridge ageing ubr 120",
    "port security u_a mac 02:00:00:00:00:0a ip 198.18.0.10,2001:db8::a",
    "port security u_a limit 4",
    "port flood u_sys1 off",
    "port storm u_b 500",
    "fdb add ubr 10 02:00:00:00:00:99 u_sys1",
    "bridge tunnel vxlan ubr 198.18.9.2 42",
    "tap create 10 name u_mon",
    "tap mirror u_a u_mon ubr",
    "vhost create 30 socket /tmp/brisk-undo-test-v.sock name u_v",
    "port vlan u_v dot1q-tunnel 300",
};

// Commands that change the configuration, each run on the configured switch.
const char* const kChanges[] = {
    "tap create 11 name u_new",
    "tap create DMZ bridge u_br3 name u_new",
    "tap delete u_a",
    "tap delete all",
    "port add u_sys3 vlan 7",
    "port delete u_sys1",
    "port vlan u_a trunk 10,20 native 20",
    "port vlan u_b access 7",
    "port vlan u_sys2 access 9",
    "bridge ageing ubr 0",
    "bridge config ubr fdb-limit=500",
    "bridge destroy u_br2",
    "bridge destroy ubr",
    "bridge tunnel gre ubr 198.18.9.3",
    "bridge notunnel ubr mega0",  // the vxlan tunnel's name is looked up below
    "bridge trunk ubr u_sys4",
    "vhost create 31 socket /tmp/brisk-undo-test-w.sock name u_w",
    "port security u_a mac 02:00:00:00:00:0b",
    "port security u_a off",
    "port security u_sys1 limit 9",
    "port flood u_sys1 on",
    "port storm u_b off",
    "fdb add ubr 10 02:00:00:00:00:98 u_a",
    "fdb add ubr 10 02:00:00:00:00:99 u_a",
    "fdb del ubr 10 02:00:00:00:00:99",
    "tap mirror all u_c u_br2",
    "clear tap mirror u_mon",
    "clear tap mirror",
    "nuke",
};

struct Configured {
  Harness h{"ubr"};
  std::string tunnel;
  Configured() {
    for (const char* c : kConfig) {
      Reply r = h.cmd(c);
      EXPECT_TRUE(r.ok) << c << ": " << r.text;
    }
    for (auto& [n, p] : h.sw().ports())
      if (p.kind == PortKind::kTunnel) tunnel = n;
  }
  Reply run(std::string line) {
    if (auto at = line.find("mega0"); at != std::string::npos) line.replace(at, 5, tunnel);
    return h.cmd(line);
  }
};

// A state file in a directory that can be made unusable for writing by anyone, root included:
// the directory is moved away and a regular file put in its place.
struct BreakableDir {
  TempDir t{"brisk-undo-test"};
  fs::path dir = t.dir / "state";
  std::string path = (dir / "state.json").string();
  BreakableDir() { fs::create_directory(dir); }
  void set_writable(bool on) {
    if (on) {
      fs::remove(dir);
      fs::rename(t.dir / "moved", dir);
    } else {
      fs::rename(dir, t.dir / "moved");
      std::ofstream(dir) << "not a directory";
    }
  }
};

TEST(StateUndo, ReconcileUndoesEveryKindOfCommand) {
  for (const char* change : kChanges) {
    Configured c;
    json before = dump_state(c.h.sw());
    std::string shown = undo_listing(c.h);
    Reply r = c.run(change);
    ASSERT_TRUE(r.ok) << change << ": " << r.text;
    ASSERT_NE(dump_state(c.h.sw()), before) << change << " changed nothing";
    std::vector<ReconcileFailure> failed = reconcile_state(c.h.sw(), before);
    for (const auto& f : failed) ADD_FAILURE() << change << ": " << f.section << ": " << f.error;
    EXPECT_EQ(dump_state(c.h.sw()), before) << change;
    EXPECT_EQ(undo_listing(c.h), shown) << change;
  }
}

TEST(StateUndo, AChangeThatCannotBeWrittenIsUndoneAndRefused) {
  BreakableDir d;
  Configured c;
  StateStore store(d.path);
  ReplayReport rep;
  ASSERT_EQ(store.load(c.h.sw(), rep), "");
  ASSERT_EQ(store.sync(c.h.sw()), "");
  const std::string on_disk = slurp(d.path);
  d.set_writable(false);
  for (const char* change : kChanges) {
    json before = dump_state(c.h.sw());
    StateStore::Checkpoint cp = store.checkpoint(c.h.sw());
    Reply r = c.run(change);
    ASSERT_TRUE(r.ok) << change << ": " << r.text;
    std::string err = store.commit(c.h.sw(), cp);
    EXPECT_NE(err.find("cannot create a temporary file"), std::string::npos)
        << change << ": " << err;
    EXPECT_EQ(err.find("undo could not"), std::string::npos) << change << ": " << err;
    EXPECT_EQ(dump_state(c.h.sw()), before) << change;
    EXPECT_EQ(store.pending_count(), 0u) << change;
  }
  // Commands that change nothing still succeed while the file cannot be written.
  for (const char* read :
       {"tap", "bridge", "port", "fdb", "stats", "port security", "tap mirror"}) {
    StateStore::Checkpoint cp = store.checkpoint(c.h.sw());
    ASSERT_TRUE(c.run(read).ok) << read;
    EXPECT_EQ(store.commit(c.h.sw(), cp), "") << read;
  }
  d.set_writable(true);
  EXPECT_EQ(slurp(d.path), on_disk) << "nothing refused reached the file";
  // Writable again: the same command succeeds and is written.
  StateStore::Checkpoint cp = store.checkpoint(c.h.sw());
  ASSERT_TRUE(c.run("tap create 11 name u_new").ok);
  EXPECT_EQ(store.commit(c.h.sw(), cp), "");
  EXPECT_EQ(json::parse(slurp(d.path)), dump_state(c.h.sw()));
  EXPECT_TRUE(c.h.sw().ports().count("u_new"));
}

TEST(StateUndo, StateCommandsAreUndoneToo) {
  BreakableDir d;
  Harness h("ubr");
  h.system_drivers.clear();  // the system port's device is "gone"
  {
    std::ofstream(d.path) << R"({"brisk_state": 1, "ports": [
        {"name": "gone1", "bridge": "ubr", "mode": "access", "vlan": 7, "driver": "afxdp"}]})";
  }
  StateStore store(d.path);
  ReplayReport rep;
  ASSERT_EQ(store.load(h.sw(), rep), "");
  ASSERT_EQ(store.pending_count(), 1u);
  d.set_writable(false);
  for (std::vector<std::string> argv : {std::vector<std::string>{"state", "forget", "gone1"},
                                        std::vector<std::string>{"state", "retry"}}) {
    h.system_drivers = {"afxdp"};  // retry succeeds in the model...
    StateStore::Checkpoint cp = store.checkpoint(h.sw());
    Reply r = CommandSet(h.sw(), &store).run(argv);
    ASSERT_TRUE(r.ok) << argv[1] << ": " << r.text;
    EXPECT_NE(store.commit(h.sw(), cp), "") << argv[1];  // ...but cannot be written: undone
    EXPECT_EQ(store.pending_count(), 1u) << argv[1];
    EXPECT_FALSE(h.sw().ports().count("gone1")) << argv[1];
  }
}

TEST(StateUndo, AnEntryTheUndoCannotRestoreStaysPending) {
  BreakableDir d;
  Harness h("ubr");
  StateStore store(d.path);
  ReplayReport rep;
  ASSERT_EQ(store.load(h.sw(), rep), "");
  ASSERT_TRUE(h.cmd("port add u_sys1 vlan 10").ok);
  ASSERT_EQ(store.sync(h.sw()), "");
  d.set_writable(false);
  StateStore::Checkpoint cp = store.checkpoint(h.sw());
  ASSERT_TRUE(h.cmd("port delete u_sys1").ok);
  h.system_drivers.clear();  // the device vanished meanwhile: it cannot be attached again
  std::string err = store.commit(h.sw(), cp);
  EXPECT_NE(err.find("undo could not restore ports u_sys1"), std::string::npos) << err;
  EXPECT_EQ(store.pending_count(), 1u);
  json doc = store.compose(h.sw());
  ASSERT_EQ(doc["ports"].size(), 1u) << "the port stays in the state, pending";
  EXPECT_TRUE(doc["ports"][0].contains("pending"));
}

}  // namespace
}  // namespace brisk::test

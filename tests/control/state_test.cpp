// The state store: the model serialized and rebuilt section by section, entries that cannot
// be replayed kept, unknown sections kept, corrupt files moved aside, atomic writes, the lock.
#include "control/state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/frame_builder.hpp"
#include "support/harness.hpp"
#include "support/temp_dir.hpp"

namespace brisk::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string state_listing(Harness& h) {
  return h.cmd("tap").text + h.cmd("bridge").text + h.cmd("port").text + h.cmd("fdb").text +
         h.cmd("port security").text;
}

// A configuration touching every section.
void configure(Harness& h) {
  for (const char* c :
       {"tap create 10 name s_a", "tap create LAN name s_b", "tap create 20 bridge s_br2 name s_c",
        "port add s_sys1 vlan 10", "port add s_sys2 trunk 10,20-22 native 5 driver afpacket",
        "bridge config s_br2 fdb-limit=1000", "bridge ageing stbr 120",
        "port security s_a mac 02:00:00:00:00:0a ip 198.18.0.10,2001:db8::a",
        "port security s_a limit 4", "port flood s_sys1 off", "port storm s_b 500",
        "fdb add stbr 10 02:00:00:00:00:99 s_sys1", "bridge tunnel vxlan stbr 198.18.9.2 42",
        "bridge tunnel gre s_br2 198.18.9.3", "tap create 10 name s_mon",
        "tap mirror s_a s_mon stbr"}) {
    Reply r = h.cmd(c);
    ASSERT_TRUE(r.ok) << c << ": " << r.text;
  }
}

TEST(State, RoundTripRebuildsTheSameSwitch) {
  Harness a("stbr");
  configure(a);
  json doc = dump_state(a.sw());
  EXPECT_EQ(doc["brisk_state"], kStateFormat);
  EXPECT_EQ(doc["taps"].size(), 4u);
  EXPECT_EQ(doc["ports"].size(), 2u);
  EXPECT_EQ(doc["fdb"].size(), 1u);
  EXPECT_EQ(doc["tunnels"].size(), 2u);
  EXPECT_EQ(doc["mirrors"].size(), 1u);
  // Through text, as it is on disk.
  json reread = json::parse(doc.dump(2));

  Harness b("stbr");
  StateStore store("");
  ReplayReport r = store.replay(b.sw(), reread);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(state_listing(a), state_listing(b));
  EXPECT_EQ(dump_state(b.sw()), doc);
  EXPECT_EQ(b.sw().ports().at("s_b").vlan, 101);
  EXPECT_EQ(b.sw().bridges().at("s_br2").fdb_limit, 1000u);
  // An alias allocated after the replay does not collide with the restored one.
  ASSERT_TRUE(b.cmd("tap create DMZ name s_d").ok);
  EXPECT_EQ(b.sw().ports().at("s_d").vlan, 102);
}

TEST(State, ReplayedSwitchForwards) {
  Harness a("stbr");
  configure(a);
  Harness b("stbr");
  StateStore store("");
  store.replay(b.sw(), dump_state(a.sw()));
  // The static entry points at s_sys1: a frame from the trunk s_sys2 on VLAN 10 goes there only.
  b.send("s_sys2",
         FrameBuilder().to("02:00:00:00:00:99").from("02:00:00:00:00:0b").tagged(10).build());
  auto sent = b.sent();
  EXPECT_EQ(sent["s_sys1"].size(), 1u);
  EXPECT_EQ(sent.count("s_a"), 0u);
}

TEST(State, VlanModesOfTapsPortsAndVhostsAreReplayed) {
  Harness a("stbr");
  for (const char* c :
       {"tap create 100 name s_q", "port vlan s_q dot1q-tunnel 100", "tap create LAN name s_l",
        "port vlan s_l dot1q-tunnel 101", "tap create 10 name s_t",
        "port vlan s_t trunk 10,20 native 20", "port add s_p dot1q-tunnel 100 driver afpacket",
        "vhost create 30 socket /tmp/brisk-state-test-vq.sock name s_v",
        "port vlan s_v dot1q-tunnel 300", "port add s_tr trunk"}) {
    Reply r = a.cmd(c);
    ASSERT_TRUE(r.ok) << c << ": " << r.text;
  }
  json doc = json::parse(dump_state(a.sw()).dump(2));
  for (const auto& t : doc["taps"]) {
    if (t["name"] == "s_q") {
      EXPECT_EQ(t["mode"], "dot1q-tunnel");
    }
    if (t["name"] == "s_t") {
      EXPECT_EQ(t["vlans"], "10,20");
    }
  }
  Harness b("stbr");
  StateStore store("");
  ReplayReport r = store.replay(b.sw(), doc);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(state_listing(a), state_listing(b));
  EXPECT_EQ(dump_state(b.sw()), doc);
  EXPECT_EQ(b.sw().ports().at("s_l").vlan_alias, "LAN") << "the alias still names the VLAN";
  EXPECT_EQ(b.sw().ports().at("s_v").mode, VlanMode::kDot1qTunnel);
  EXPECT_EQ(b.sw().ports().at("s_p").mode, VlanMode::kDot1qTunnel);
  // The replayed switch is a QinQ switch: a customer-tagged frame from s_q reaches the trunk
  // double-tagged and s_p as it was sent.
  auto in = FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:0c").tagged(7).build();
  b.send("s_q", in);
  auto sent = b.sent();
  ASSERT_EQ(sent["s_p"].size(), 1u);
  EXPECT_EQ(sent["s_p"][0], in);
  ASSERT_EQ(sent["s_tr"].size(), 1u);
  EXPECT_EQ(vlan_of(sent["s_tr"][0]), 100);
  EXPECT_EQ(sent["s_tr"][0].size(), in.size() + 4);
  // A bad mode is an error for that entry, not a crash, and creates nothing.
  json bad = doc;
  bad["taps"] = json::array({{{"name", "s_x"}, {"bridge", "stbr"}, {"vlan", 5}, {"mode", "qinq"}}});
  bad["ports"] = json::array();
  bad["vhosts"] = json::array();
  Harness c("stbr");
  ReplayReport rc = store.replay(c.sw(), bad);
  ASSERT_EQ(rc.errors.size(), 1u);
  EXPECT_NE(rc.errors[0].find("bad mode"), std::string::npos) << rc.errors[0];
  EXPECT_EQ(c.sw().ports().count("s_x"), 0u);
}

TEST(State, FailedEntriesAreReportedKeptAndRetried) {
  Harness a("stbr");
  configure(a);
  json doc = dump_state(a.sw());
  Harness b("stbr");
  b.system_drivers.clear();  // system ports' devices are "gone"
  StateStore store("");
  ReplayReport r = store.replay(b.sw(), doc);
  // Two system ports, and what depends on them: the security entry of s_sys1, its FDB entry.
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_NE(r.errors[0].find("ports s_sys1"), std::string::npos) << r.errors[0];
  EXPECT_TRUE(b.sw().ports().count("s_a")) << "the rest was restored";
  EXPECT_EQ(store.pending_count(), 4u);
  // Kept in the state that would be written, marked pending with the reason.
  json now = store.compose(b.sw());
  ASSERT_EQ(now["ports"].size(), 2u);
  EXPECT_TRUE(now["ports"][0].contains("pending"));
  EXPECT_EQ(now["fdb"].size(), 1u);
  // The devices come back: `state retry` restores everything.
  b.system_drivers = {"afxdp", "afpacket"};
  Reply reply = store.retry(b.sw());
  ASSERT_TRUE(reply.ok);
  EXPECT_EQ(store.pending_count(), 0u) << reply.text;
  EXPECT_EQ(state_listing(a), state_listing(b));
  EXPECT_EQ(store.compose(b.sw()), doc);
}

TEST(State, ConfiguringAPendingNameAgainReplacesItAndForgetDrops) {
  Harness b("stbr");
  b.system_drivers.clear();
  StateStore store("");
  json doc = json::parse(R"({"brisk_state": 1, "ports": [
      {"name": "gone1", "bridge": "stbr", "mode": "access", "vlan": 7, "driver": "afxdp"},
      {"name": "gone2", "bridge": "stbr", "mode": "access", "vlan": 8, "driver": "afxdp"}]})");
  store.replay(b.sw(), doc);
  EXPECT_EQ(store.pending_count(), 2u);
  b.system_drivers = {"afpacket"};
  ASSERT_TRUE(b.cmd("port add gone1 vlan 9 driver afpacket").ok);
  json now = store.compose(b.sw());
  ASSERT_EQ(now["ports"].size(), 2u);
  EXPECT_EQ(now["ports"][0]["vlan"], 9) << "the live port wins over the pending one";
  EXPECT_FALSE(now["ports"][0].contains("pending"));
  EXPECT_FALSE(store.forget("nosuch").ok);
  EXPECT_TRUE(store.forget("gone2").ok);
  EXPECT_EQ(store.compose(b.sw())["ports"].size(), 1u);
}

TEST(State, BadEntriesAreErrorsNotCrashes) {
  Harness b("stbr");
  StateStore store("");
  json doc = json::parse(R"({"brisk_state": 1,
      "bridges": [{"name": 5}, {"name": "ok_br", "ageing": "x"}],
      "taps": [{"name": "t1", "bridge": "stbr", "vlan": 99999}, {"bridge": "stbr", "vlan": 3},
               {"name": "t2", "bridge": "stbr", "vlan": 4}],
      "fdb": {"not": "a list"},
      "security": [{"port": "t2", "bindings": [{"mac": "zz"}]}]})");
  ReplayReport r = store.replay(b.sw(), doc);
  EXPECT_EQ(r.errors.size(), 6u);
  EXPECT_TRUE(b.sw().ports().count("t2"));
}

TEST(State, UnknownSectionsAreKeptVerbatim) {
  Harness b("stbr");
  StateStore store("");
  json doc =
      json::parse(R"({"brisk_state": 2, "vhosts_v9": [{"bridge": "stbr", "remote": "198.18.0.1"}],
                             "taps": [{"name": "u1", "bridge": "stbr", "vlan": 3}]})");
  ReplayReport r = store.replay(b.sw(), doc);
  EXPECT_TRUE(r.errors.empty());
  json now = store.compose(b.sw());
  EXPECT_EQ(now["vhosts_v9"], doc["vhosts_v9"]);
  EXPECT_EQ(now["taps"].size(), 1u);
}

TEST(State, WritesAtomicallyAndOnlyWhenChanged) {
  TempDir t("brisk-state-test");
  std::string path = (t.dir / "sub" / "state.json").string();
  Harness h("stbr");
  StateStore store(path);
  ReplayReport rep;
  ASSERT_EQ(store.load(h.sw(), rep), "") << "a missing file is fine";
  EXPECT_TRUE(rep.errors.empty());
  ASSERT_EQ(store.sync(h.sw()), "");
  EXPECT_EQ(store.writes(), 1u);
  ASSERT_EQ(store.sync(h.sw()), "");
  EXPECT_EQ(store.writes(), 1u) << "nothing changed, nothing written";
  ASSERT_TRUE(h.cmd("fdb add stbr 1 02:00:00:00:00:01 stbr").ok);  // no snapshot change
  ASSERT_EQ(store.sync(h.sw(), /*force_compare=*/false), "");
  EXPECT_EQ(store.writes(), 1u);
  ASSERT_EQ(store.sync(h.sw()), "");
  EXPECT_EQ(store.writes(), 2u);
  json on_disk = json::parse(slurp(path));
  EXPECT_EQ(on_disk, dump_state(h.sw()));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  ASSERT_TRUE(h.cmd("tap create 5 name w1").ok);
  ASSERT_EQ(store.sync(h.sw(), /*force_compare=*/false), "") << "a snapshot change is noticed";
  EXPECT_EQ(store.writes(), 3u);
  EXPECT_EQ(json::parse(slurp(path))["taps"].size(), 1u);

  // A second store on the same file is refused while the first holds the lock.
  Harness h2("stbr");
  StateStore other(path);
  ReplayReport rep2;
  EXPECT_NE(other.load(h2.sw(), rep2).find("in use by another briskd"), std::string::npos);
}

TEST(State, CorruptFileIsMovedAsideNeverOverwritten) {
  for (const char* bad :
       {"{\"brisk_state\": 1, \"taps\": [", "garbage", "[1,2,3]", "{\"taps\": []}", ""}) {
    TempDir t("brisk-state-test");
    std::string path = (t.dir / "state.json").string();
    { std::ofstream(path) << bad; }
    Harness h("stbr");
    StateStore store(path);
    ReplayReport rep;
    ASSERT_EQ(store.load(h.sw(), rep), "") << bad;
    ASSERT_EQ(rep.errors.size(), 1u) << bad;
    EXPECT_NE(rep.errors[0].find("moved to " + path + ".corrupt-"), std::string::npos)
        << rep.errors[0];
    std::vector<fs::path> aside;
    for (auto& e : fs::directory_iterator(t.dir))
      if (e.path().filename().string().starts_with("state.json.corrupt-"))
        aside.push_back(e.path());
    ASSERT_EQ(aside.size(), 1u) << bad;
    EXPECT_EQ(slurp(aside[0]), bad) << "the corrupt file is kept as it was";
    // Life goes on: the next change writes a fresh state file.
    ASSERT_TRUE(h.cmd("tap create 5 name c1").ok);
    ASSERT_EQ(store.sync(h.sw()), "");
    EXPECT_EQ(json::parse(slurp(path))["taps"][0]["name"], "c1");
    EXPECT_EQ(slurp(aside[0]), bad);
    Reply reply = store.show();
    ASSERT_TRUE(reply.ok);
    EXPECT_NE(reply.text.find("was unusable"), std::string::npos) << reply.text;
  }
}

TEST(State, UnwritableDirectoryIsAnErrorNotACrash) {
  Harness h("stbr");
  StateStore store("/dev/null/state.json");  // a parent that is not a directory, even for root
  EXPECT_NE(store.sync(h.sw()), "");
}

}  // namespace
}  // namespace brisk::test

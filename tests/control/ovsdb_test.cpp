// The OVSDB client's parts without a server: the JSON-RPC stream splitter, the replica and its
// datum helpers, and the reconciler bringing a real Switch (memory ports) to database rows.
// tests/integration/ovsdb.sh runs the whole against Debian's ovsdb-server and ovs-vsctl.
#include <gtest/gtest.h>

#include "control/ovsdb_reconcile.hpp"
#include "control/ovsdb_replica.hpp"
#include "control/ovsdb_rpc.hpp"
#include "control/state.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

using json = nlohmann::json;

TEST(OvsdbRpc, SplitsMessagesAcrossReadsAndIgnoresBracesInStrings) {
  std::string buf = R"({"id":1,"result":{"a":"}{\"]"}} {"method":"echo","par)";
  std::vector<std::string> out;
  EXPECT_EQ(split_json_stream(buf, out), "");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(json::parse(out[0])["result"]["a"], "}{\"]");
  buf += R"(ams":[],"id":"x"})"
         "\n";
  EXPECT_EQ(split_json_stream(buf, out), "");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(json::parse(out[1])["method"], "echo");
  EXPECT_TRUE(buf.empty());
}

TEST(OvsdbRpc, RefusesGarbageAndOversizedMessages) {
  std::string buf = "x{}";
  std::vector<std::string> out;
  EXPECT_NE(split_json_stream(buf, out), "");
  buf = R"({"a":"0123456789"})";
  EXPECT_NE(split_json_stream(buf, out, 8), "");
  EXPECT_TRUE(out.empty());
}

TEST(OvsdbRpc, RemotesAreCheckedLikeOvs) {
  EXPECT_EQ(check_ovsdb_remote("unix:/run/openvswitch/db.sock"), "");
  EXPECT_EQ(check_ovsdb_remote("tcp:127.0.0.1:6640"), "");
  EXPECT_NE(check_ovsdb_remote("tcp:127.0.0.1"), "");
  EXPECT_NE(check_ovsdb_remote("tcp:localhost:6640"), "");
  EXPECT_NE(check_ovsdb_remote("unix:"), "");
  EXPECT_NE(check_ovsdb_remote("/run/openvswitch/db.sock"), "");
}

TEST(OvsdbReplica, AppliesInsertModifyDeleteAndReadsDatums) {
  OvsdbReplica db;
  ASSERT_EQ(db.apply(json::parse(R"({"Port": {"u1": {"new": {"name": "p", "tag": 10,
      "trunks": ["set", [10, 20]], "interfaces": ["uuid", "i1"],
      "other": ["map", [["k", "v"]]]}}}})")),
            "");
  const OvsdbRow* r = db.row("Port", "u1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(ovsdb_string(*r, "name"), "p");
  EXPECT_EQ(ovsdb_int(*r, "tag"), 10);
  EXPECT_EQ(ovsdb_set_atoms(*r, "trunks").size(), 2u);
  EXPECT_EQ(ovsdb_uuids(*r, "interfaces"), std::vector<std::string>{"i1"});
  EXPECT_EQ(ovsdb_string_map(*r, "other").at("k"), "v");
  ASSERT_EQ(db.apply(json::parse(R"({"Port": {"u1": {"old": {"tag": 10},
      "new": {"name": "p", "tag": ["set", []]}}}})")),
            "");
  EXPECT_FALSE(ovsdb_int(*db.row("Port", "u1"), "tag"));
  EXPECT_NE(db.apply(json::parse(R"({"Port": {"u1": {"new": 3}}})")), "");
  EXPECT_NE(db.row("Port", "u1"), nullptr);  // a malformed update changes nothing
  ASSERT_EQ(db.apply(json::parse(R"({"Port": {"u1": {"old": {}}}})")), "");
  EXPECT_EQ(db.row("Port", "u1"), nullptr);
}

// Rows as the server sends them.
json uuids(std::initializer_list<const char*> u) {
  json a = json::array();
  for (const char* x : u) a.push_back(json::array({"uuid", x}));
  return json::array({"set", a});
}
json insert(const json& row) { return {{"new", row}}; }

class Reconcile : public ::testing::Test {
 protected:
  Harness h{"tbr0"};
  OvsdbReplica db;
  OvsdbReconciler rec{h.sw()};

  void apply(const json& updates) {
    ASSERT_EQ(db.apply(updates), "");
    rec.reconcile(db);
  }
  const PortModel* port(const std::string& n) {
    auto it = h.sw().ports().find(n);
    return it == h.sw().ports().end() ? nullptr : &it->second;
  }
  // A bridge "ob" with its own interface and the given extra ports.
  json bridge(std::initializer_list<const char*> ports) {
    json p = uuids({"pb"});
    for (const char* x : ports) p[1].push_back(json::array({"uuid", x}));
    return {{"b1", insert({{"name", "ob"},
                           {"ports", p},
                           {"mirrors", uuids({})},
                           {"other_config", json::array({"map", json::array()})}})}};
  }
  json port_row(const char* name, const char* iface, json extra = json::object()) {
    json r = {{"name", name}, {"interfaces", uuids({iface})}};
    for (auto& [k, v] : extra.items()) r[k] = v;
    return insert(r);
  }
  json iface_row(const char* name, const char* type) {
    return insert(
        {{"name", name}, {"type", type}, {"options", json::array({"map", json::array()})}});
  }
};

TEST_F(Reconcile, RowsBecomeOvsdbOwnedPortsWithTheirVlans) {
  apply({{"Bridge", bridge({"p1", "p2", "p3"})},
         {"Port",
          {{"pb", port_row("ob", "ib")},
           {"p1", port_row("o1", "i1", {{"tag", 10}})},
           {"p2", port_row("o2", "i2",
                           {{"tag", 10},
                            {"trunks", json::array({"set", {10, 20}})},
                            {"vlan_mode", "native-untagged"}})},
           {"p3", port_row("o3", "i3")}}},
         {"Interface",
          {{"ib", iface_row("ob", "internal")},
           {"i1", iface_row("o1", "internal")},
           {"i2", iface_row("o2", "")},
           {"i3", iface_row("o3", "bogus")}}}});
  ASSERT_TRUE(h.sw().bridges().count("ob"));
  EXPECT_EQ(h.sw().bridges().at("ob").owner, Owner::kOvsdb);
  ASSERT_NE(port("o1"), nullptr);
  EXPECT_EQ(port("o1")->kind, PortKind::kTap);
  EXPECT_EQ(port("o1")->mode, VlanMode::kAccess);
  EXPECT_EQ(port("o1")->vlan, 10);
  EXPECT_EQ(port("o1")->owner, Owner::kOvsdb);
  ASSERT_NE(port("o2"), nullptr);
  EXPECT_EQ(port("o2")->mode, VlanMode::kTrunk);
  EXPECT_EQ(port("o2")->native, 10);
  EXPECT_TRUE(port("o2")->allowed->test(20));
  EXPECT_FALSE(port("o2")->allowed->test(30));
  EXPECT_EQ(port("o3"), nullptr);
  EXPECT_NE(rec.interfaces().at("i3").error.find("bogus"), std::string::npos);
  EXPECT_TRUE(rec.interfaces().at("ib").self);
  EXPECT_EQ(rec.interfaces().at("ib").error, "");
  // The state file leaves OVSDB's objects out.
  const std::string doc = dump_state(h.sw()).dump();
  EXPECT_EQ(doc.find("\"ob\""), std::string::npos) << doc;
  EXPECT_EQ(doc.find("\"o1\""), std::string::npos) << doc;

  // Clearing the tag: back to a trunk of every VLAN, native 0.
  apply({{"Port",
          {{"p1",
            {{"new",
              {{"name", "o1"},
               {"interfaces", uuids({"i1"})},
               {"tag", json::array({"set", json::array()})}}}}}}}});
  EXPECT_EQ(port("o1")->mode, VlanMode::kTrunk);
  EXPECT_TRUE(port("o1")->allowed->all());
  // A port row deleted (and gone from its bridge): the brisk port goes.
  apply({{"Bridge", bridge({"p1", "p3"})},
         {"Port", {{"p2", json::object()}}},
         {"Interface", {{"i2", json::object()}}}});
  EXPECT_EQ(port("o2"), nullptr);
  EXPECT_NE(port("o1"), nullptr);
  // The bridge deleted: its ports go with it; the native default bridge stays.
  apply({{"Bridge", {{"b1", json::object()}}}});
  EXPECT_FALSE(h.sw().bridges().count("ob"));
  EXPECT_EQ(port("o1"), nullptr);
  EXPECT_TRUE(h.sw().bridges().count("tbr0"));
}

TEST_F(Reconcile, NativePortsAreNotTakenOverAndBadRowsChangeNothing) {
  ASSERT_TRUE(h.cmd("tap create 5 name o1").ok);
  apply({{"Bridge", bridge({"p1", "p2", "p4"})},
         {"Port",
          {{"pb", port_row("ob", "ib")},
           {"p1", port_row("o1", "i1", {{"tag", 10}})},
           {"p2", port_row("o2", "i2", {{"tag", 4095}})},
           {"p4", port_row("o4", "i4", {{"tag", 7}, {"vlan_mode", "native-tagged"}})}}},
         {"Interface",
          {{"ib", iface_row("ob", "internal")},
           {"i1", iface_row("o1", "internal")},
           {"i2", iface_row("o2", "internal")},
           {"i4", iface_row("o4", "internal")}}}});
  EXPECT_EQ(port("o1")->owner, Owner::kNative);
  EXPECT_EQ(port("o1")->vlan, 5);
  EXPECT_NE(rec.interfaces().at("i1").error, "");
  EXPECT_EQ(port("o2"), nullptr);
  EXPECT_NE(rec.interfaces().at("i2").error.find("4095"), std::string::npos);
  EXPECT_EQ(port("o4"), nullptr);
  EXPECT_NE(rec.interfaces().at("i4").error.find("native-tagged"), std::string::npos);
}

TEST_F(Reconcile, TunnelsAreNamedByTheRowWithA32BitKey) {
  json vx = insert(
      {{"name", "ovx"},
       {"type", "vxlan"},
       {"options", json::array({"map", json::array({json::array({"remote_ip", "198.18.9.9"}),
                                                    json::array({"key", "3735928559"})})})}});
  apply({{"Bridge", bridge({"p1"})},
         {"Port", {{"pb", port_row("ob", "ib")}, {"p1", port_row("ovx", "i1")}}},
         {"Interface", {{"ib", iface_row("ob", "internal")}, {"i1", vx}}}});
  ASSERT_NE(port("ovx"), nullptr);
  EXPECT_EQ(port("ovx")->kind, PortKind::kTunnel);
  EXPECT_EQ(port("ovx")->tunnel.key, 3735928559u & 0xffffffu);
  EXPECT_EQ(rec.interfaces().at("i1").error, "");
}

TEST_F(Reconcile, VhostUserPorts) {
  json client =
      insert({{"name", "ovc"},
              {"type", "dpdkvhostuserclient"},
              {"options",
               json::array({"map", json::array({json::array(
                                       {"vhost-server-path", "/run/brisk-test/vm1.sock"})})})}});
  json server = iface_row("ovs", "dpdkvhostuser");
  apply({{"Bridge", bridge({"p1", "p2"})},
         {"Port",
          {{"pb", port_row("ob", "ib")},
           {"p1", port_row("ovc", "i1", {{"tag", 3}})},
           {"p2", port_row("ovs", "i2")}}},
         {"Interface", {{"ib", iface_row("ob", "internal")}, {"i1", client}, {"i2", server}}}});
  ASSERT_NE(port("ovc"), nullptr);
  EXPECT_EQ(port("ovc")->kind, PortKind::kVhost);
  EXPECT_EQ(port("ovc")->driver, "client");
  EXPECT_EQ(port("ovc")->devargs, "/run/brisk-test/vm1.sock");
  EXPECT_EQ(port("ovc")->vlan, 3);
  ASSERT_NE(port("ovs"), nullptr);
  EXPECT_EQ(port("ovs")->driver, "server");
  EXPECT_EQ(port("ovs")->devargs, std::string(kOvsRundir) + "/ovs");
  EXPECT_TRUE(rec.interfaces().at("i1").realised);
  EXPECT_EQ(rec.interfaces().at("i1").error, "");
}

TEST_F(Reconcile, Dot1qTunnelPortsTakeOnly802_1qServiceTags) {
  auto qinq = [](const char* ethtype) {
    json oc = json::array();
    if (ethtype) oc.push_back(json::array({"qinq-ethtype", ethtype}));
    return json{{"tag", 200}, {"vlan_mode", "dot1q-tunnel"}, {"other_config", {"map", oc}}};
  };
  apply(
      {{"Bridge", bridge({"p1"})},
       {"Port", {{"pb", port_row("ob", "ib")}, {"p1", port_row("oq", "i1", qinq(nullptr))}}},
       {"Interface", {{"ib", iface_row("ob", "internal")}, {"i1", iface_row("oq", "internal")}}}});
  ASSERT_NE(port("oq"), nullptr);
  EXPECT_EQ(port("oq")->mode, VlanMode::kDot1qTunnel);
  EXPECT_EQ(port("oq")->vlan, 200);
  EXPECT_EQ(rec.interfaces().at("i1").error, "");
  apply({{"Port", {{"p1", {{"new", port_row("oq", "i1", qinq("802.1q"))["new"]}}}}}});
  EXPECT_EQ(rec.interfaces().at("i1").error, "");
  // 802.1ad (OVS's 0x88a8) cannot be realised: an error, and the port keeps what it had.
  json ad = qinq("802.1ad");
  ad["tag"] = 201;
  apply({{"Port", {{"p1", {{"new", port_row("oq", "i1", ad)["new"]}}}}}});
  EXPECT_NE(rec.interfaces().at("i1").error.find("802.1ad"), std::string::npos);
  EXPECT_EQ(port("oq")->vlan, 200);
  EXPECT_EQ(port("oq")->mode, VlanMode::kDot1qTunnel);
}

json omap(std::initializer_list<std::pair<const char*, const char*>> kv) {
  json a = json::array();
  for (auto& [k, v] : kv) a.push_back(json::array({k, v}));
  return json::array({"map", a});
}

// libvirt's <bandwidth> rows: ingress_policing_rate/burst on the Interface (kbit/s, kbit), a
// linux-htb QoS on the Port with queue 0 (bit/s, bits), and their removal.
TEST_F(Reconcile, BandwidthRowsBecomePolicingAndAnOutboundLimit) {
  json pol = insert({{"name", "obw"},
                     {"type", "internal"},
                     {"options", json::array({"map", json::array()})},
                     {"ingress_policing_rate", 16000},
                     {"ingress_policing_burst", 1600}});
  json qos = insert(
      {{"type", "linux-htb"},
       {"other_config", omap({{"min-rate", "8192000"}, {"max-rate", "24000000"}})},
       {"queues",
        json::array({"map", json::array({json::array({0, json::array({"uuid", "q0"})})})})}});
  json queue =
      insert({{"other_config",
               omap({{"min-rate", "8192000"}, {"max-rate", "16384000"}, {"burst", "819200"}})}});
  apply({{"Bridge", bridge({"p1"})},
         {"Port",
          {{"pb", port_row("ob", "ib")},
           {"p1", port_row("obw", "i1", {{"qos", json::array({"uuid", "qo"})}})}}},
         {"Interface", {{"ib", iface_row("ob", "internal")}, {"i1", pol}}},
         {"QoS", {{"qo", qos}}},
         {"Queue", {{"q0", queue}}}});
  ASSERT_NE(port("obw"), nullptr);
  const PortQos& q = port("obw")->qos;
  EXPECT_EQ(q.police_kbit, 16000u);
  EXPECT_EQ(q.police_burst_kbit, 1600u);
  ASSERT_NE(q.police_in, nullptr);
  EXPECT_EQ(q.police_in->rate(), 2'000'000u);  // bytes/s
  // The smaller max-rate (queue 0's), its min-rate and burst; a host tap: userspace.
  EXPECT_EQ(q.egress.max_rate, 16'384'000u);
  EXPECT_EQ(q.egress.min_rate, 8'192'000u);
  EXPECT_EQ(q.egress.burst, 819'200u);
  EXPECT_EQ(q.via, PortQos::Via::kUserspace);
  EXPECT_EQ(rec.interfaces().at("i1").error, "");
  EXPECT_EQ(rec.interfaces().at("i1").status.at("qos"), "userspace");

  // A QoS type brisk does not realise: an error, no outbound limit, the port works.
  apply({{"QoS",
          {{"qo",
            {{"new",
              {{"type", "linux-hfsc"},
               {"other_config", omap({{"max-rate", "1000000"}})},
               {"queues", json::array({"map", json::array()})}}}}}}}});
  EXPECT_NE(rec.interfaces().at("i1").error.find("linux-hfsc"), std::string::npos);
  EXPECT_TRUE(rec.interfaces().at("i1").realised);
  EXPECT_EQ(port("obw")->qos.via, PortQos::Via::kNone);
  EXPECT_NE(port("obw")->qos.police_in, nullptr);
  // A rate that is not a number.
  apply({{"QoS",
          {{"qo",
            {{"new",
              {{"type", "linux-htb"},
               {"other_config", omap({{"max-rate", "10M"}})},
               {"queues", json::array({"map", json::array()})}}}}}}}});
  EXPECT_NE(rec.interfaces().at("i1").error.find("'10M' is not a number"), std::string::npos);

  // libvirt's cleanup: qos removed from the Port, QoS and Queue destroyed, policing 0.
  apply({{"Port", {{"p1", port_row("obw", "i1")}}},
         {"QoS", {{"qo", json::object()}}},
         {"Queue", {{"q0", json::object()}}},
         {"Interface", {{"i1", iface_row("obw", "internal")}}}});
  EXPECT_EQ(port("obw")->qos.via, PortQos::Via::kNone);
  EXPECT_EQ(port("obw")->qos.police_in, nullptr);
  EXPECT_EQ(rec.interfaces().at("i1").error, "");
  EXPECT_TRUE(rec.interfaces().at("i1").status.empty());
}

TEST_F(Reconcile, MirrorSelectVlanIsRealisedAndOutputVlanIsAnError) {
  apply(
      {{"Bridge",
        {{"b1", insert({{"name", "ob"},
                        {"ports", uuids({"pb", "p1", "p2"})},
                        {"mirrors", uuids({"m1", "m2"})},
                        {"other_config", json::array({"map", json::array()})}})}}},
       {"Port",
        {{"pb", port_row("ob", "ib")}, {"p1", port_row("o1", "i1")}, {"p2", port_row("o2", "i2")}}},
       {"Interface",
        {{"ib", iface_row("ob", "internal")},
         {"i1", iface_row("o1", "internal")},
         {"i2", iface_row("o2", "internal")}}},
       {"Mirror",
        {{"m1", insert({{"name", "mv"},
                        {"select_all", true},
                        {"select_vlan", json::array({"set", {101, 103}})},
                        {"output_port", json::array({"uuid", "p2"})}})},
         {"m2", insert({{"name", "rspan"}, {"select_all", true}, {"output_vlan", 300}})}}}});
  ASSERT_EQ(h.sw().mirrors().size(), 1u);
  const MirrorModel& m = h.sw().mirrors()[0];
  EXPECT_EQ(m.dst, "o2");
  ASSERT_NE(m.vlans, nullptr);
  EXPECT_TRUE(m.vlans->test(101));
  EXPECT_FALSE(m.vlans->test(102));
  EXPECT_TRUE(m.vlans->test(103));
  const auto& st = rec.bridge_status().at("b1");
  EXPECT_EQ(st.count("mirror mv"), 0u);
  EXPECT_NE(st.at("mirror rspan").find("output_vlan"), std::string::npos);
  // A changed selection makes the mirror again.
  apply({{"Mirror",
          {{"m1",
            {{"new",
              {{"name", "mv"},
               {"select_all", true},
               {"select_vlan", 102},
               {"output_port", json::array({"uuid", "p2"})}}}}}}}});
  ASSERT_EQ(h.sw().mirrors().size(), 1u);
  EXPECT_TRUE(h.sw().mirrors()[0].vlans->test(102));
  EXPECT_FALSE(h.sw().mirrors()[0].vlans->test(101));
}

}  // namespace
}  // namespace brisk::test

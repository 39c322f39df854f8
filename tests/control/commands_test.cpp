// The command grammar: minimega's tap/bridge forms, brisk's fdb/stats/port, and the rule that
// a refused command answers one "E:"-style error and changes nothing.
#include "control/commands.hpp"

#include <gtest/gtest.h>

#include "control/server.hpp"
#include "control/table.hpp"
#include "datapath/dpdk_env.hpp"
#include "datapath/dpdk_port.hpp"
#include "support/frame_builder.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

std::string listing(Harness& h) {
  return h.cmd("tap").text + h.cmd("bridge").text + h.cmd("fdb").text + h.cmd("port").text;
}

TEST(Table, MinimegaColumns) {
  EXPECT_EQ(format_table({"bridge", "tap", "vlan"}, {{"mega_bridge", "mega_tap0", "10"}}),
            "bridge      | tap       | vlan\n"
            "mega_bridge | mega_tap0 | 10\n");
}

TEST(Commands, TapCreateFormsOfTheSeedGrammar) {
  Harness h("tcbr0");
  Reply r = h.cmd("tap create 111");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(r.text, "tt0");
  EXPECT_EQ(h.cmd("tap create 112 name mytap").text, "mytap");
  EXPECT_EQ(h.cmd("tap create 112 bridge othbr").text, "tt1");
  EXPECT_EQ(h.cmd("tap create 113 bridge othbr name mytap2").text, "mytap2");
  EXPECT_TRUE(h.sw().bridges().count("othbr")) << "a bridge is created on first use";
  const auto& ports = h.sw().ports();
  EXPECT_EQ(ports.at("mytap2").bridge, "othbr");
  EXPECT_EQ(ports.at("mytap2").vlan, 113);
  EXPECT_EQ(ports.at("tt0").bridge, "tcbr0");
  EXPECT_EQ(h.cmd("tap").text,
            "bridge | tap    | vlan\n"
            "tcbr0  | mytap  | 112\n"
            "othbr  | mytap2 | 113\n"
            "tcbr0  | tt0    | 111\n"
            "othbr  | tt1    | 112\n");
}

TEST(Commands, VlanAliasesAllocateFrom101) {
  Harness h("tcbr1");
  ASSERT_TRUE(h.cmd("tap create LAN name a1").ok);
  ASSERT_TRUE(h.cmd("tap create DMZ name a2").ok);
  ASSERT_TRUE(h.cmd("tap create LAN name a3").ok);
  EXPECT_EQ(h.sw().ports().at("a1").vlan, 101);
  EXPECT_EQ(h.sw().ports().at("a2").vlan, 102);
  EXPECT_EQ(h.sw().ports().at("a3").vlan, 101);
  EXPECT_NE(h.cmd("tap").text.find("LAN (101)"), std::string::npos);
  // A refused create does not use up an alias.
  EXPECT_FALSE(h.cmd("tap create WAN name a1").ok);
  ASSERT_TRUE(h.cmd("tap create WAN name a4").ok);
  EXPECT_EQ(h.sw().ports().at("a4").vlan, 103);
}

TEST(Commands, BadCommandsAreRefusedAndChangeNothing) {
  Harness h("tcbr2");
  ASSERT_TRUE(h.cmd("tap create 10 name good").ok);
  h.send("good", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:01").build());
  const std::string before = listing(h);
  const char* bad[] = {
      "tap create",
      "tap create 4095",
      "tap create 5000",
      "tap create -1",
      "tap create 10 name good",
      "tap create 10 name waytoolonginterfacename",
      "tap create 10 name bad/name",
      "tap create 10 ip 300.1.1.1/24",
      "tap create 10 ip 198.18.0.1",
      "tap create 10 bridge",
      "tap create 10 frob",
      "tap create bad!alias",
      "tap delete nosuch",
      "tap delete",
      "tap frob",
      "bridge destroy nosuch",
      "bridge ageing tcbr2 -1",
      "bridge ageing tcbr2 abc",
      "bridge ageing nosuch 10",
      "bridge config tcbr2 fdb-limit=0",
      "bridge config tcbr2 colour=blue",
      "fdb add tcbr2 10 zz:zz 1",
      "fdb add tcbr2 10 02:00:00:00:00:09 nosuch",
      "fdb add tcbr2 10 ff:ff:ff:ff:ff:ff good",
      "fdb add tcbr2 5000 02:00:00:00:00:09 good",
      "fdb del tcbr2 10 02:00:00:00:00:77",
      "fdb flush nosuch",
      "fdb flush tcbr2 port nosuch",
      "fdb flush tcbr2 vlan 9999",
      "stats nosuch",
      "port delete nosuch",
      "port delete tcbr2",
      "frobnicate",
      "",
  };
  for (const char* c : bad) {
    Reply r = h.cmd(c);
    EXPECT_FALSE(r.ok) << "accepted: '" << c << "'";
    EXPECT_FALSE(r.text.empty()) << c;
    EXPECT_EQ(r.text.find('\n'), std::string::npos) << "one line: " << r.text;
  }
  EXPECT_EQ(listing(h), before);
  EXPECT_EQ(h.sw().bridges().size(), 1u);
}

TEST(Commands, DeleteByNameNumberAndAll) {
  Harness h("tcbr3");
  ASSERT_TRUE(h.cmd("tap create 10").ok);  // tt0
  ASSERT_TRUE(h.cmd("tap create 10").ok);  // tt1
  ASSERT_TRUE(h.cmd("tap create 10 name x").ok);
  ASSERT_TRUE(h.cmd("tap delete 0").ok);
  EXPECT_FALSE(h.sw().ports().count("tt0"));
  ASSERT_TRUE(h.cmd("tap delete x").ok);
  ASSERT_TRUE(h.cmd("tap delete all").ok);
  EXPECT_EQ(h.cmd("tap").text, "bridge | tap | vlan\n");
  EXPECT_TRUE(h.sw().ports().count("tcbr3")) << "the bridge's own interface stays";
}

TEST(Commands, BridgeListingDestroyAndNuke) {
  Harness h("tcbr4");
  ASSERT_TRUE(h.cmd("tap create 20 name b1").ok);
  ASSERT_TRUE(h.cmd("tap create 10 name b2").ok);
  ASSERT_TRUE(h.cmd("tap create 10 bridge other name b3").ok);
  EXPECT_EQ(h.cmd("bridge").text,
            "bridge | preexisting | vlans   | trunks | tunnels | bonds | config\n"
            "other  | false       | [10]    | []     | []      | []    | ageing=300 fdb-limit=65536\n"
            "tcbr4  | false       | [10 20] | []     | []      | []    | ageing=300 fdb-limit=65536\n");
  ASSERT_TRUE(h.cmd("bridge destroy other").ok);
  EXPECT_FALSE(h.sw().ports().count("b3")) << "destroying a bridge deletes its taps";
  ASSERT_TRUE(h.cmd("tap create LAN name b4").ok);
  ASSERT_TRUE(h.cmd("nuke").ok);
  EXPECT_EQ(h.sw().bridges().size(), 1u);
  EXPECT_TRUE(h.sw().bridges().count("tcbr4"));
  EXPECT_EQ(h.sw().ports().size(), 1u);
  ASSERT_TRUE(h.cmd("tap create LAN2 name b5").ok);
  EXPECT_EQ(h.sw().ports().at("b5").vlan, 101) << "nuke forgets VLAN aliases";
}

TEST(Commands, FdbShowAndJson) {
  Harness h("tcbr5");
  ASSERT_TRUE(h.cmd("tap create 10 name f1").ok);
  h.send("f1", FrameBuilder().to("ff:ff:ff:ff:ff:ff").from("02:00:00:00:00:01").build());
  ASSERT_TRUE(h.cmd("fdb add tcbr5 10 02:00:00:00:00:02 f1").ok);
  Reply r = h.cmd("fdb show tcbr5");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.text,
            "bridge | vlan | mac               | port | type    | age\n"
            "tcbr5  | 10   | 02:00:00:00:00:01 | f1   | dynamic | 0\n"
            "tcbr5  | 10   | 02:00:00:00:00:02 | f1   | static  | -\n");
  ASSERT_EQ(r.data.size(), 2u);
  EXPECT_EQ(r.data[0]["mac"], "02:00:00:00:00:01");
  EXPECT_EQ(r.data[0]["port"], "f1");
  EXPECT_EQ(h.cmd("fdb flush tcbr5").text, "flushed 1 entries");
  EXPECT_EQ(h.cmd("fdb").data.size(), 1u) << "flush keeps static entries";
  Reply s = h.cmd("stats f1");
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.data["ports"][0]["rx_frames"], 1);
}

TEST(Server, ProtocolAndMalformedRequests) {
  Harness h("tcbr6");
  Server srv(h.sw(), "/nonexistent/unused.sock");
  auto reply = nlohmann::json::parse(srv.handle(R"({"argv":["tap","create","7","name","s1"]})"));
  EXPECT_TRUE(reply["ok"]);
  EXPECT_EQ(reply["text"], "s1");
  for (const char* bad : {"", "not json", "{}", R"({"argv": "tap"})", R"({"argv": [1, 2]})", "[]"}) {
    auto r = nlohmann::json::parse(srv.handle(bad));
    EXPECT_FALSE(r["ok"]) << bad;
    EXPECT_NE(r["text"].get<std::string>().find("malformed"), std::string::npos);
  }
}

}  // namespace
}  // namespace brisk::test

namespace brisk::test {
namespace {

TEST(Commands, PortAddAccessAndTrunkWithDriverFallback) {
  Harness h("tcbr7");
  Reply r = h.cmd("port add veth1 vlan 10 driver afpacket");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(h.sw().ports().at("veth1").driver, "afpacket");
  ASSERT_TRUE(h.cmd("port add veth2 trunk 10,20-22 native 5").ok);
  const PortModel& t = h.sw().ports().at("veth2");
  EXPECT_EQ(t.mode, VlanMode::kTrunk);
  EXPECT_EQ(format_vlan_list(*t.allowed), "5,10,20-22") << "the native VLAN is carried";
  EXPECT_EQ(t.driver, "afxdp");
  // AF_XDP unavailable: the automatic choice falls back and says so.
  h.system_drivers = {"afpacket"};
  r = h.cmd("port add veth3 vlan 10");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(h.sw().ports().at("veth3").driver, "afpacket");
  EXPECT_NE(r.text.find("AF_XDP unavailable"), std::string::npos);
  // An explicit driver that fails is an error, with no fallback.
  EXPECT_FALSE(h.cmd("port add veth4 vlan 10 driver afxdp").ok);
  EXPECT_FALSE(h.sw().ports().count("veth4"));
  EXPECT_NE(h.cmd("port").text.find("system/afpacket"), std::string::npos);
  ASSERT_TRUE(h.cmd("port delete veth1").ok);
  EXPECT_FALSE(h.sw().ports().count("veth1"));
}

TEST(Commands, PortAddRefusals) {
  Harness h("tcbr8");
  ASSERT_TRUE(h.cmd("port add v1 vlan 10").ok);
  const std::string before = listing(h);
  for (const char* c : {"port add", "port add v2", "port add v2 vlan", "port add v2 vlan 4095",
                        "port add v2 trunk 1-5000", "port add v2 trunk 10,,20", "port add v2 trunk 30-20",
                        "port add v2 trunk native 9999", "port add v2 vlan 10 driver dpdkk",
                        "port add v2 vlan 10 native 3", "port add v1 vlan 10", "port add tcbr8 vlan 10",
                        "port add v2 vlan 10 bridge", "bridge trunk nosuch v2", "bridge notrunk tcbr8 v1",
                        "bridge trunk tcbr8"}) {
    Reply r = h.cmd(c);
    EXPECT_FALSE(r.ok) << "accepted: " << c;
  }
  EXPECT_EQ(listing(h), before);
}

TEST(Commands, VhostCreateGrammar) {
  Harness h("tcbr10");
  Reply r = h.cmd("vhost create 10 socket /tmp/vm1.sock");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(r.text, "vhost0");
  const PortModel& p = h.sw().ports().at("vhost0");
  EXPECT_EQ(p.kind, PortKind::kVhost);
  EXPECT_EQ(p.driver, "client");
  EXPECT_EQ(p.devargs, "/tmp/vm1.sock");
  EXPECT_EQ(p.vlan, 10);
  r = h.cmd("vhost create 20 socket /tmp/vm2.sock server name vm2 bridge other");
  ASSERT_TRUE(r.ok) << r.text;
  EXPECT_EQ(h.sw().ports().at("vm2").driver, "server");
  EXPECT_EQ(h.sw().ports().at("vm2").bridge, "other");
  EXPECT_NE(h.cmd("port").text.find("vhost/server"), std::string::npos);
  EXPECT_EQ(h.cmd("tap").text.find("vm2"), std::string::npos) << "vhost ports are not taps";
  const std::string before = listing(h);
  for (const char* c : {"vhost create", "vhost create 10", "vhost create 4095 socket /tmp/x.sock",
                        "vhost create 10 socket", "vhost create 10 socket rel.sock",
                        "vhost create 10 socket /tmp/vm1.sock", "vhost create 10 socket /tmp/x.sock name vm2",
                        "vhost create 10 socket /tmp/x.sock name a/b", "vhost create 10 socket /tmp/x.sock bogus",
                        "vhost create 10 socket /tmp/x.sock server server",
                        "vhost create ten socket /tmp/x.sock"}) {
    Reply e = h.cmd(c);
    EXPECT_FALSE(e.ok) << "accepted: " << c;
    EXPECT_EQ(e.text.find('\n'), std::string::npos) << "one line: " << e.text;
  }
  EXPECT_EQ(listing(h), before);
  ASSERT_TRUE(h.cmd("port delete vhost0").ok);
  EXPECT_TRUE(h.cmd("vhost create 10 socket /tmp/vm1.sock").ok) << "the socket is free again";
}

TEST(Commands, PortAddDpdkNamesThePortAfterTheDevice) {
  Harness h("tcbr11");
  h.system_drivers = {"dpdk"};
  Reply r = h.cmd("port add net_pcap0,iface=veth1 vlan 10 driver dpdk");
  ASSERT_TRUE(r.ok) << r.text;
  const PortModel& p = h.sw().ports().at("net_pcap0");
  EXPECT_EQ(p.driver, "dpdk");
  EXPECT_EQ(p.devargs, "net_pcap0,iface=veth1");
  ASSERT_TRUE(h.cmd("port add 03:00.0 trunk driver dpdk").ok);
  EXPECT_TRUE(h.sw().ports().count("0000:03:00.0"));
  EXPECT_FALSE(h.cmd("port add net_pcap0,iface=veth2 vlan 10 driver dpdk").ok) << "same device name";
  EXPECT_FALSE(h.cmd("port add 'a b' vlan 10 driver dpdk").ok);
  EXPECT_FALSE(h.cmd("port add ,iface=x vlan 10 driver dpdk").ok);
  EXPECT_NE(h.cmd("port").text.find("system/dpdk"), std::string::npos);
}

TEST(DpdkNames, PciAddressesAndVdevStrings) {
  EXPECT_TRUE(DpdkEnv::is_pci_address("0000:03:00.0"));
  EXPECT_TRUE(DpdkEnv::is_pci_address("03:00.1"));
  EXPECT_FALSE(DpdkEnv::is_pci_address("net_null0"));
  EXPECT_FALSE(DpdkEnv::is_pci_address("0000:03:00.8"));
  EXPECT_EQ(DpdkPort::device_name("03:00.0"), "0000:03:00.0");
  EXPECT_EQ(DpdkPort::device_name("net_af_xdp0,iface=eth1,start_queue=0"), "net_af_xdp0");
  EXPECT_EQ(DpdkPort::device_name("net_ring0"), "net_ring0");
  EXPECT_EQ(DpdkPort::device_name("bad name"), "");
  EXPECT_EQ(DpdkPort::device_name(""), "");
}

TEST(Commands, MinimegaBridgeTrunk) {
  Harness h("tcbr9");
  ASSERT_TRUE(h.cmd("bridge trunk tcbr9 eth7").ok);
  const PortModel& p = h.sw().ports().at("eth7");
  EXPECT_EQ(p.mode, VlanMode::kTrunk);
  EXPECT_TRUE(p.allowed->all());
  EXPECT_NE(h.cmd("bridge").text.find("[eth7]"), std::string::npos);
  ASSERT_TRUE(h.cmd("bridge notrunk tcbr9 eth7").ok);
  EXPECT_FALSE(h.sw().ports().count("eth7"));
}

}  // namespace
}  // namespace brisk::test

// The command grammar: minimega's tap/bridge forms, brisk's fdb/stats/port, and the rule that
// a refused command answers one "E:"-style error and changes nothing.
#include "control/commands.hpp"

#include <gtest/gtest.h>

#include <set>

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

// The typed command table (control/command_table.hpp): each argument kind with a good value,
// a bad value, the value missing and a word too many, through the real commands; the errors
// come from the argument descriptions.
namespace brisk::test {
namespace {

struct Case {
  const char* line;
  const char* error;  // nullptr: accepted; else the whole error line
};

void expect_cases(Harness& h, std::initializer_list<Case> cases) {
  for (const Case& c : cases) {
    Reply r = h.cmd(c.line);
    if (c.error == nullptr) {
      EXPECT_TRUE(r.ok) << c.line << ": " << r.text;
    } else {
      EXPECT_FALSE(r.ok) << "accepted: " << c.line;
      EXPECT_EQ(r.text, c.error) << c.line;
    }
  }
}

TEST(CommandTable, WordAndUint) {
  Harness h("ctbr0");
  expect_cases(h,
               {{"bridge create ctb1", nullptr},
                {"bridge create", "missing <b>; usage: bridge create <b>"},
                {"bridge create ctb2 ctb3", "unexpected 'ctb3'; usage: bridge create <b>"},
                {"bridge ageing ctb1 600", nullptr},
                {"bridge ageing ctb1 abc", "invalid ageing 'abc': want 0-1000000 seconds"},
                {"bridge ageing ctb1 1000001", "invalid ageing '1000001': want 0-1000000 seconds"},
                {"bridge ageing ctb1 -1", "invalid ageing '-1': want 0-1000000 seconds"},
                {"bridge ageing ctb1", "missing <seconds>; usage: bridge ageing <b> <seconds>"},
                {"bridge ageing ctb1 1 2", "unexpected '2'; usage: bridge ageing <b> <seconds>"},
                // The same descriptions parse `bridge config`'s values.
                {"bridge config ctb1 ageing=7", nullptr},
                {"bridge config ctb1 ageing=x", "invalid ageing 'x': want 0-1000000 seconds"},
                {"bridge config ctb1 fdb-limit=0", "invalid fdb-limit '0': want 1-4194304"},
                {"bridge config ctb1 colour=blue",
                 "unknown bridge config key 'colour' (known: ageing=<seconds>, fdb-limit=<n>)"}});
  EXPECT_EQ(h.sw().bridges().at("ctb1").ageing, 7u);
  // A word standing for 0.
  ASSERT_TRUE(h.cmd("tap create 10 name st").ok);
  expect_cases(h,
               {{"port storm st 500", nullptr},
                {"port storm st off", nullptr},
                {"port storm st 0", "invalid rate '0': want 1-100000000 frames/s or off"},
                {"port storm st", "missing <frames/s>|off; usage: port storm <p> <frames/s>|off"},
                {"port storm st off 1", "unexpected '1'; usage: port storm <p> <frames/s>|off"}});
}

TEST(CommandTable, VlanKinds) {
  Harness h("ctbr1");
  ASSERT_TRUE(h.cmd("tap create 10 name v1").ok);
  expect_cases(h, {{"fdb add ctbr1 4094 02:00:00:00:00:01 v1", nullptr},
                   {"fdb add ctbr1 4095 02:00:00:00:00:01 v1",
                    "invalid vlan '4095': want 0-4094 (4095 is reserved by 802.1Q)"},
                   {"fdb add ctbr1 ten 02:00:00:00:00:01 v1",
                    "invalid vlan 'ten': want 0-4094 (0: untagged)"},
                   {"fdb add ctbr1", "missing <vlan>; usage: fdb add <b> <vlan> <mac> <p>"},
                   {"fdb add ctbr1 10 02:00:00:00:00:02 v1 x",
                    "unexpected 'x'; usage: fdb add <b> <vlan> <mac> <p>"},
                   // VLAN or alias
                   {"tap create LAN name v2", nullptr},
                   {"tap create bad! name v3", "invalid vlan 'bad!': want 0-4094 or an alias"},
                   {"tap create 5000", "invalid vlan '5000': want 0-4094 (0: untagged)"},
                   // VLAN list
                   {"port add p1 trunk 10,20-22", nullptr},
                   {"port add p2 trunk 1-5000",
                    "invalid vlan list '1-5000': want e.g. 10,20,30-40 or all (VLANs 0-4094)"},
                   {"port add p2 trunk 10 native 4095",
                    "invalid native vlan '4095': want 0-4094 (4095 is reserved by 802.1Q)"}});
  EXPECT_EQ(h.sw().ports().at("v2").vlan, 101);
  EXPECT_EQ(format_vlan_list(*h.sw().ports().at("p1").allowed), "0,10,20-22") << "and native 0";
}

TEST(CommandTable, MacIpListPathChoice) {
  Harness h("ctbr2");
  ASSERT_TRUE(h.cmd("tap create 10 name m1").ok);
  expect_cases(
      h,
      {{"port security m1 mac 02:00:00:00:00:01 ip 198.18.0.1,2001:db8::1", nullptr},
       {"port security m1 mac zz:zz", "invalid mac 'zz:zz': want aa:bb:cc:dd:ee:ff"},
       {"port security m1 mac",
        "missing <mac> after mac; usage: port security [<p>] "
        "[mac <mac> | off | limit <n>] [ip <addr,...>]"},
       {"port security m1 mac 02:00:00:00:00:02 ip 198.18.0.1,1.2.3",
        "invalid ip '1.2.3': want IPv4 or IPv6 addresses separated by commas"},
       {"port security m1 ip 198.18.0.1",
        "'ip' needs mac; usage: port security [<p>] [mac <mac> | off | limit <n>] "
        "[ip <addr,...>]"},
       {"port security m1 off limit 3",
        "'limit' cannot go with 'off'; usage: port security [<p>] [mac <mac> | off | "
        "limit <n>] [ip <addr,...>]"},
       {"port add e1 vlan 10 driver frob", "unknown driver 'frob': want afxdp, afpacket or dpdk"},
       {"port flood m1 maybe", "unknown flood setting 'maybe': want on or off"},
       {"bridge tunnel ipip ctbr2 198.18.0.2", "unknown tunnel type 'ipip': want vxlan or gre"}});
  const PortModel& p = h.sw().ports().at("m1");
  ASSERT_TRUE(p.security);
  ASSERT_EQ(p.security->bindings.size(), 1u);
  EXPECT_EQ(p.security->bindings[0].v4.size(), 1u);
  EXPECT_EQ(p.security->bindings[0].v6.size(), 1u);
  // A path: not empty.
  Reply r = h.run({"vhost", "create", "10", "socket", ""});
  EXPECT_EQ(r.text, "invalid socket path '': want a file name");
  EXPECT_EQ(h.cmd("vhost create 10").text,
            "missing socket <path>; usage: vhost create <vlan> socket <path> [bridge <b>] "
            "[name <name>] [server]");
}

TEST(CommandTable, OptionsAlternativesAndNesting) {
  Harness h("ctbr3");
  const std::string tap_usage =
      "usage: tap create <vlan> [bridge <b>] [name <tap>] [ip <cidr> [<tap>] | dhcp [<tap>]]";
  expect_cases(
      h, {{"tap create 10 bridge", ("missing <b> after bridge; " + tap_usage).c_str()},
          {"tap create 10 bridge a bridge b", ("bridge given twice; " + tap_usage).c_str()},
          {"tap create 10 dhcp ip 198.18.0.1/24",
           ("'ip' cannot go with 'dhcp'; " + tap_usage).c_str()},
          {"tap create 10 name o1 dhcp o2", ("tap name given twice; " + tap_usage).c_str()},
          {"port add x1",
           "missing vlan mode (vlan, trunk or dot1q-tunnel); usage: port add <iface> "
           "(vlan <id> | trunk [<vlans>] | dot1q-tunnel <id>) [native <id>] "
           "[bridge <b>] [driver afxdp|afpacket|dpdk]"},
          {"port vlan x1 frob 1", "unknown vlan mode 'frob': want access, trunk or dot1q-tunnel"},
          {"tap mirror a",
           "missing <dst tap>; usage: tap mirror [<src tap|all> <dst tap> [<bridge>]]"},
          {"clear capture 5", "unexpected '5'; usage: clear capture [pcap [<id>]]"},
          {"clear capture pcap x", "invalid capture id 'x': want 0-4294967295"},
          {"capture pcap snaplen 100",
           "'snaplen' needs file; usage: capture pcap [tap|bridge <port|b> <file>] "
           "[snaplen <n>] [overwrite]"},
          {"tap frob", "unknown tap command 'frob'"},
          {"state frob", "unknown state command 'frob'"},
          {"nuke now", "unexpected 'now'; usage: nuke"},
          {"state", "this briskd keeps no state store"}});
  // Options in any order; minimega's tap name after the address.
  ASSERT_TRUE(h.cmd("tap create 10 ip dhcp o3 bridge ob").ok);
  EXPECT_EQ(h.sw().ports().at("o3").bridge, "ob");
  ASSERT_TRUE(h.cmd("port add x2 bridge ob driver afpacket trunk native 7").ok);
  EXPECT_EQ(h.sw().ports().at("x2").native, 7);
  EXPECT_TRUE(h.sw().ports().at("x2").allowed->all());
}

TEST(CommandTable, TypedValuesOfASpec) {
  CommandSpec c{
      .words = {"t"},
      .args = {{.name = "n", .kind = ArgKind::kUint, .max = 9},
               {.name = "rest", .optional = true, .repeated = true}},
      .options = {{.keyword = "vlans", .args = {{.name = "vlans", .kind = ArgKind::kVlanList}}}}};
  std::vector<std::string> w = {"7", "a", "b"};
  ParsedCommand p = parse_command_args(c, w);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.args.at("n").number, 7u);
  EXPECT_EQ(p.args.at("rest").words, (std::vector<std::string>{"a", "b"}));
  w = {"3", "vlans", "1-3"};
  p = parse_command_args(c, w);
  ASSERT_EQ(p.error, "");
  EXPECT_FALSE(p.args.has("rest")) << "an optional positional is not taken from a keyword";
  EXPECT_EQ(p.args.at("vlans").vlans.count(), 3u);
  EXPECT_EQ(command_usage(c), "t <n> [<rest>...] [vlans <vlans>]");
}

TEST(CommandTable, HelpAndDocsComeFromTheTable) {
  Harness h("ctbr4");
  Reply all = h.cmd("help");
  ASSERT_TRUE(all.ok);
  std::set<std::string_view> titles;
  for (const auto& s : CommandSet::sections()) titles.insert(s.title);
  const std::string md = CommandSet::markdown();
  for (const auto& c : CommandSet::table()) {
    std::string usage = command_usage(c);
    EXPECT_NE(all.text.find("  " + usage), std::string::npos) << usage;
    EXPECT_NE(md.find("`" + usage + "`\n: "), std::string::npos) << usage;
    EXPECT_FALSE(c.help.empty()) << usage;
    EXPECT_NE(c.handler, nullptr) << usage;
    EXPECT_TRUE(titles.count(c.section)) << usage << ": section '" << c.section << "'";
  }
  Reply port = h.cmd("help port security");
  ASSERT_TRUE(port.ok);
  EXPECT_EQ(port.text.find("port add"), std::string::npos);
  EXPECT_NE(port.text.find("port security [<p>]"), std::string::npos) << port.text;
  EXPECT_EQ(h.cmd("help frob").text, "no command starts with 'frob'; try help");
}

}  // namespace
}  // namespace brisk::test

// Names, VLAN ids and printing (control/validate.hpp): the rules themselves, and that every
// place a name or a VLAN id enters (commands, the state file's replay) applies them and
// changes nothing when it refuses, and that listings print control characters escaped.
#include "control/validate.hpp"

#include <gtest/gtest.h>

#include "control/state.hpp"
#include "control/table.hpp"
#include "support/harness.hpp"

namespace brisk::test {
namespace {

using json = nlohmann::json;
using Argv = std::vector<std::string>;

// Names that must never become an interface or an argument of a command line.
const std::vector<std::string>& bad_names() {
  static const std::vector<std::string> v = {
      "",
      "-r",
      "-x",
      "-nw",
      "--",
      "-",
      "a/b",
      "a:b",
      "tap%d",
      "a b",
      "a\tb",
      "a\nb",
      std::string("a\0b", 3),
      "a\x1b[31mb",
      "\x1b]0;owned\x07",
      "a\x7f",
      "\xc3\xa9t",
      ".",
      "..",
      "all",
      "default",
      "waytoolongname16",
  };
  return v;
}

TEST(Ifname, ValidNames) {
  for (const char* n :
       {"eth0", "mega_tap0", "a", "veth-1.2", "br_0-x", "exactly15chars_", "x-", "vnet@0", "a+b=c"})
    EXPECT_EQ(ifname_problem(n), "") << n;
}

TEST(Ifname, InvalidNamesSayWhy) {
  for (const auto& n : bad_names()) EXPECT_FALSE(valid_ifname(n)) << printable(n);
  EXPECT_EQ(ifname_problem(""), "empty");
  EXPECT_EQ(ifname_problem("-nw"), "starts with '-'");
  EXPECT_EQ(ifname_problem("a b"), "contains whitespace");
  EXPECT_EQ(ifname_problem(std::string("a\0b", 3)), "contains a NUL byte");
  EXPECT_EQ(ifname_problem("a\x1b"), "contains a control character");
  EXPECT_EQ(ifname_problem("a/b"), "contains '/'");
  EXPECT_EQ(ifname_problem("waytoolongname16"), "longer than 15 characters");
  // The error line shows the name escaped and the rule.
  EXPECT_EQ(check_ifname("tap name", "a\x1b[2Jb"),
            "invalid tap name 'a\\x1b[2Jb': contains a control character (want 1-15 printable "
            "ASCII characters, no '/', ':', '%' or whitespace, not starting with '-')");
  EXPECT_EQ(check_ifname("tap name", "ok"), "");
}

TEST(VlanId, ZeroTo4094) {
  EXPECT_EQ(parse_vlan_id("0"), VlanId{0});
  EXPECT_EQ(parse_vlan_id("1"), VlanId{1});
  EXPECT_EQ(parse_vlan_id("4094"), VlanId{4094});
  EXPECT_EQ(parse_vlan_id("0010"), VlanId{10});
  for (const char* s :
       {"4095", "4096", "9999", "65536", "-1", "+1", "", " 1", "1 ", "0x10", "10a", "01234"})
    EXPECT_FALSE(parse_vlan_id(s)) << s;
  EXPECT_TRUE(valid_vlan_id(kMaxConfigVlan));
  EXPECT_FALSE(valid_vlan_id(kMaxVlan));
  EXPECT_EQ(vlan_id_error("4095"), "invalid vlan '4095': want 0-4094 (4095 is reserved by 802.1Q)");
}

TEST(Printable, EscapesWhatATerminalActsOn) {
  EXPECT_EQ(printable("mega_tap0 | 10"), "mega_tap0 | 10");
  EXPECT_EQ(printable("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(printable("bell\x07"), "bell\\x07");
  EXPECT_EQ(printable(std::string("nul\0", 4)), "nul\\x00");
  EXPECT_EQ(printable("del\x7f"), "del\\x7f");
  EXPECT_EQ(printable("two\nlines"), "two\\x0alines");
  EXPECT_EQ(printable("two\nlines\r", true), "two\nlines\\x0d");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays
  EXPECT_EQ(printable("csi\xc2\x9b"
                      "31m"),
            "csi\\xc2\\x9b31m");                            // C1 control (U+009B)
  EXPECT_EQ(printable("raw\x9b"), "raw\\x9b");              // not UTF-8
  EXPECT_EQ(printable("cut\xc3"), "cut\\xc3");              // truncated sequence
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  for (const auto& n : bad_names()) EXPECT_EQ(printable(printable(n)), printable(n));
}

TEST(Printable, TablesEscapeCellsAndAlignOnWhatIsShown) {
  EXPECT_EQ(format_table({"tap", "vlan"}, {{"a\x1b[2J", "10"}, {"plain", "20"}}),
            "tap      | vlan\n"
            "a\\x1b[2J | 10\n"
            "plain    | 20\n");
}

// Every command that takes a name refuses the bad ones, and nothing changes.
TEST(Commands, EveryNameThatEntersIsValidated) {
  Harness h("vtbr0");
  ASSERT_TRUE(h.cmd("tap create 10 name good").ok);
  auto listing = [&] {
    return h.cmd("tap").text + h.cmd("bridge").text + h.cmd("port").text + h.cmd("fdb").text;
  };
  const std::string before = listing();
  for (const auto& n : bad_names()) {
    for (const Argv& argv :
         {Argv{"tap", "create", "10", "name", n}, Argv{"tap", "create", "10", "dhcp", n},
          Argv{"tap", "create", "10", "bridge", n},
          Argv{"vhost", "create", "10", "socket", "/tmp/vt.sock", "name", n},
          Argv{"bridge", "create", n}, Argv{"port", "add", n, "vlan", "10"},
          Argv{"bridge", "trunk", "vtbr0", n}}) {
      if (n.empty() && argv[1] == "trunk") continue;  // "" is no name for a lookup either
      Reply r = h.run(argv);
      EXPECT_FALSE(r.ok) << "accepted: " << printable(argv[0] + " " + argv[1] + " ... " + n);
      EXPECT_EQ(r.text.find('\n'), std::string::npos) << r.text;
    }
  }
  EXPECT_EQ(listing(), before);
}

TEST(Commands, Vlan4095IsRefusedEverywhere) {
  Harness h("vtbr1");
  ASSERT_TRUE(h.cmd("tap create 10 name good").ok);
  ASSERT_TRUE(h.cmd("port add sys1 trunk").ok);
  const std::string before = h.cmd("fdb").text + h.cmd("port").text;
  for (const char* c :
       {"fdb add vtbr1 4095 02:00:00:00:00:01 good", "fdb del vtbr1 4095 02:00:00:00:00:01",
        "fdb flush vtbr1 vlan 4095", "tap create 4095", "port add sys2 vlan 4095",
        "port add sys2 dot1q-tunnel 4095", "port add sys2 trunk native 4095",
        "port vlan good access 4095", "port vlan sys1 trunk 10 native 4095",
        "port add sys2 trunk 10,4095", "vhost create 4095 socket /tmp/vt.sock"}) {
    Reply r = h.cmd(c);
    EXPECT_FALSE(r.ok) << "accepted: " << c;
    EXPECT_NE(r.text.find("0-4094"), std::string::npos) << c << ": " << r.text;
  }
  EXPECT_FALSE(h.sw().fdb_add("vtbr1", 4095, *MacAddr::parse("02:00:00:00:00:01"), "good").ok);
  EXPECT_EQ(h.cmd("fdb").text + h.cmd("port").text, before);
  // 0 (untagged) and 4094 are VLANs.
  EXPECT_TRUE(h.cmd("fdb add vtbr1 4094 02:00:00:00:00:01 sys1").ok);
  EXPECT_TRUE(h.cmd("fdb add vtbr1 0 02:00:00:00:00:02 sys1").ok);
}

// The state file is replayed through the same checks: what they refuse stays pending, with
// the reason; names from it are printed escaped.
TEST(State, ReplayedNamesAndVlansAreValidated) {
  Harness h("vtbr2");
  json doc = {
      {"brisk_state", 1},
      {"aliases", {{{"alias", "E\x1b[2J"}, {"vlan", 300}}}},
      {"taps",
       {{{"name", "-nw"}, {"bridge", "vtbr2"}, {"vlan", 10}, {"alias", ""}, {"ip", "dhcp"}},
        {{"name", "t\x1b[31m"}, {"bridge", "vtbr2"}, {"vlan", 10}, {"alias", ""}},
        {{"name", "t1"}, {"bridge", "vtbr2"}, {"vlan", 300}, {"alias", "E\x1b[2J"}}}},
      {"ports", {{{"name", "-x"}, {"bridge", "vtbr2"}, {"mode", "access"}, {"vlan", 10}}}},
      {"bridges", {{{"name", "--b"}}}},
      {"fdb",
       {{{"bridge", "vtbr2"}, {"vlan", 4095}, {"mac", "02:00:00:00:00:01"}, {"port", "t1"}}}}};
  StateStore store("");
  ReplayReport r = store.replay(h.sw(), doc);
  EXPECT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(store.pending_count(), 5u);
  EXPECT_FALSE(h.sw().ports().count("-nw"));
  EXPECT_FALSE(h.sw().ports().count("-x"));
  EXPECT_FALSE(h.sw().bridges().count("--b"));
  EXPECT_TRUE(h.sw().ports().count("t1"));
  const std::string taps = h.cmd("tap").text;
  EXPECT_EQ(taps.find('\x1b'), std::string::npos) << taps;
  EXPECT_NE(taps.find("E\\x1b[2J (300)"), std::string::npos) << taps;
}

}  // namespace
}  // namespace brisk::test

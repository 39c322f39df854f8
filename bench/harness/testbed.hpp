// testbed: the topology brisk-bench measures on (switches.hpp draws it), built by the
// harness itself and removed by it. Testbed names everything in a Topology from a prefix
// (--prefix, or bk + 4 random hex digits), then makes
//
//   namespaces  <P>-gen, <P>-sink; <P>-a and <P>-b (vxlan); <P>-mir (mirror test), each with
//               IPv6 off and lo up
//   veths       <P>g0 (gen ns, 198.18.0.1) == <P>g1 and <P>s0 (sink ns, 198.18.0.2) == <P>s1,
//               <P>g1 and <P>s1 in the host (switch topology) or in <P>-a and <P>-b (vxlan)
//   underlay    vxlan: <P>u0 198.18.1.1 (in <P>-a) == <P>u1 198.18.1.2 (in <P>-b)
//   ceiling     <P>c0 (gen ns) == <P>c1 (sink ns): the generator with no switch between
//   loop        <P>l0 == <P>l1, both in the gen ns: the loop generator's pair (gen_loop.hpp)
//   mirrors     <P>d<i> (host) == <P>m<i> (in <P>-mir): the mirror test's destinations
//   workdir     a private temp directory (/tmp/brisk-bench.XXXXXX) for the switches' files
//
// and on teardown() (also from the destructor, and when the constructor fails half-way)
// deletes the namespaces, which takes their veths along, then any host device left whose
// name starts with the prefix, and the workdir. Main thread only.
#pragma once

#include <string>
#include <vector>

#include "bench/harness/options.hpp"
#include "bench/harness/switches.hpp"

namespace bench {

class Testbed {
 public:
  // Fills t (names, MACs, CPUs) from o and makes the topology; throws when a namespace of the
  // prefix exists already or a command fails (what was made is removed again).
  Testbed(const Options& o, Topology& t);
  ~Testbed() { teardown(); }
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  // Removes everything made; never throws; the second call does nothing.
  void teardown() noexcept;

  // The MTU of the switch's veth pairs, all four ends: <P>g0 == <P>g1 and <P>s1 == <P>s0
  // (the TCP matrix, test_tcp_ports.hpp). Throws when the kernel refuses it.
  void set_mtu(unsigned mtu);

 private:
  // The namespaces of the topology, all created and deleted here.
  std::vector<std::string> namespaces() const;
  void make();
  // A veth pair: `inner` (address `ip`) in namespace ns, `outer` in outer_ns ("" = here).
  void veth(const std::string& ns, const std::string& inner, const std::string& outer,
            const std::uint8_t mac[6], const std::string& ip, const std::string& outer_ns);
  // The generator's ceiling: a veth pair straight from the generator to the sink namespace;
  // and the loop generator's veth pair inside the generator namespace.
  void ceiling_pair();
  // vxlan: the underlay veth pair between the two tunnel ends' namespaces.
  void underlay();
  // The mirror test's destinations, <P>d<i> == <P>m<i>.
  void mirror_pairs();

  Topology& t_;
  bool created_ = false;
};

}  // namespace bench

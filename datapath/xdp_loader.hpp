// The one place that loads and attaches brisk's XDP object (bpf/brisk_xdp.c, brisk_xdp.o):
// used by the AF_XDP driver (an instance per port: the XDP entry point and, with the fast
// path, the tc program), by the AF_PACKET driver with the fast path (the tc program and the
// receive socket's filter), by the fast path (XdpFastpath: the instance that creates the shared
// maps, and the one that runs the mirror tracepoint program) and by state recovery (detaching
// what a previous briskd left behind).
//
//   * Finding the object: xdp_object_path() (AfXdpOptions::bpf_object or XdpFastpath's
//     argument when given, else find_bpf_object("brisk_xdp.o"), datapath/bpf_objects.hpp).
//   * Opening and loading: XdpObject opens the object, chooses which programs load
//     (XdpPrograms), makes it reuse the fast path's shared maps (XdpSharedMaps, the fds that
//     XdpFastpath's own instance created, bpf_map__reuse_fd before load) and loads it. The
//     program names are bpf/brisk_xdp_abi.h's *_NAME macros; the shared maps' names are
//     kXdpSharedMapNames below.
//   * Attaching: xdp_attach() chooses the entry point and mode: native (BRISK_XDP_PROG, frags
//     aware) or generic (BRISK_XDP_GENERIC_PROG). XdpMode::kAuto is generic on a veth
//     (device_driver() == "veth": native XDP on a veth turns its peer's TSO off, the kernel's
//     rule in veth_xdp_set) and native elsewhere, falling back to generic; kNative never falls
//     back; kGeneric never tries native. Always XDP_FLAGS_UPDATE_IF_NOEXIST: a device that
//     already runs an XDP program (another brisk, xdp-loader...) is refused, never taken over.
//     xdp_detach() removes the program only if it is still the one attached.
//   * tc: tc_attach() puts the object's BRISK_TC_PROG at the device's clsact ingress (the
//     clsact qdisc created if missing, and then removed again by tc_detach()) as the filter
//     with brisk's own handle and priority (kTcHandle, kTcPriority), so that it can be found
//     again after a crash.
//   * Recovery: detach_stale_brisk_programs() removes an XDP program named BRISK_XDP_PROG_NAME
//     or BRISK_XDP_GENERIC_PROG_NAME from a device (native or generic) and the tc filter at
//     brisk's handle and priority if its program is BRISK_TC_PROG_NAME, never anyone else's.
//
// Errors: functions that set up a port throw std::system_error with a one-line reason
// naming `who` (e.g. "AF_XDP port veth1: load XDP program from PATH"); the detach functions
// never throw. Threads: the control thread only (construction and destruction of ports and of
// the fast path, state replay).
#pragma once

#include <array>
#include <cstdint>
#include <string>

struct bpf_object;
struct bpf_program;

namespace brisk {

enum class XdpMode : std::uint8_t { kAuto, kNative, kGeneric };

// The fast path's maps every program instance shares, in this order (bpf/brisk_xdp.c).
inline constexpr int kXdpSharedMaps = 10;
inline constexpr const char* kXdpSharedMapNames[kXdpSharedMaps] = {
    "brisk_fp_ifs",    "brisk_fp_ports",   "brisk_fp_fdb",    "brisk_fp_stats",
    "brisk_fp_mpairs", "brisk_fp_mdevs",   "brisk_fp_mstats", "brisk_fp_mdsts",
    "brisk_fp_tuns", "brisk_fp_tunrx"};

// Their fds, owned by the instance that created them (XdpFastpath); -1: none.
struct XdpSharedMaps {
  XdpSharedMaps() { fds.fill(-1); }
  std::array<int, kXdpSharedMaps> fds;
};

// Which programs of the object an instance loads.
struct XdpPrograms {
  bool xdp = true;          // BRISK_XDP_PROG and BRISK_XDP_GENERIC_PROG
  bool tc = false;          // BRISK_TC_PROG
  bool sock = false;        // BRISK_SOCK_PROG (an AF_PACKET port's receive filter)
  bool tracepoint = false;  // brisk_devmap_xmit (the fast path's mirror transmit counter)
};

// `requested`, else find_bpf_object(kXdpObject); checked readable. Throws naming `who`.
std::string xdp_object_path(const std::string& requested, const std::string& who);

// One opened (then loaded) instance of brisk_xdp.o. Closing it closes its programs and maps
// (an attached program stays attached until detached or its device goes).
class XdpObject {
 public:
  // Opens `path`; throws naming `who`.
  XdpObject(const std::string& path, const std::string& who);
  ~XdpObject();
  XdpObject(const XdpObject&) = delete;
  XdpObject& operator=(const XdpObject&) = delete;

  // Before load(): which programs load, and the shared maps to reuse (nullptr: its own).
  // Throws naming `who` when the object lacks a program or map asked for.
  void prepare(const XdpPrograms& programs, const XdpSharedMaps* shared);
  void load();  // throws naming `who`

  bpf_object* get() const { return obj_; }
  const std::string& path() const { return path_; }
  // A program of the object by name (nullptr: none), its fd once loaded (-1: none).
  bpf_program* program(const char* name) const;
  int program_fd(const char* name) const;
  // A map's fd once loaded (-1: none).
  int map_fd(const char* name) const;

 private:
  bpf_object* obj_ = nullptr;
  std::string path_, who_;
};

// An XDP program attached by xdp_attach().
struct XdpAttachment {
  int ifindex = 0;
  int prog_fd = -1;
  std::uint32_t flags = 0;  // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE; 0: not attached
  bool native() const;
};

// Attaches `obj`'s entry point to `ifname` (see the rules above). Throws naming `who`.
XdpAttachment xdp_attach(const XdpObject& obj, const std::string& ifname, int ifindex, XdpMode mode,
                         const std::string& who);
void xdp_detach(XdpAttachment& a) noexcept;

// The clsact ingress filter brisk's tc program is attached as ("b15c": brisk).
inline constexpr std::uint32_t kTcHandle = 0xb15c;
inline constexpr std::uint32_t kTcPriority = 0xb15c;

// A tc program attached by tc_attach().
struct TcAttachment {
  int ifindex = 0;
  std::uint32_t handle = 0, priority = 0;
  bool made_qdisc = false;  // the clsact qdisc is brisk's: removed with the program
  bool attached = false;
};

// Attaches the loaded program `prog_fd` at `ifindex`'s clsact ingress (kTcHandle,
// kTcPriority). Never throws: on failure (also when that filter exists: another brisk's) the
// result is not attached.
TcAttachment tc_attach(int ifindex, int prog_fd) noexcept;
void tc_detach(TcAttachment& a) noexcept;

// brisk's XDP program and tc filter left attached to `ifname` by a briskd that died (kill
// -9): detached so the replayed AF_XDP port can attach again, and so the old program (whose
// maps hold the dead daemon's forwarding table) forwards nothing more. Programs that are not
// brisk's are never touched. Returns true when something was detached. The clsact qdisc
// stays (brisk cannot tell whether the dead daemon made it; without filters it does nothing).
bool detach_stale_brisk_programs(const std::string& ifname);
// The XDP program only (a tunnel's underlay: a tc filter there may be a live AF_PACKET port's).
bool detach_stale_brisk_xdp(const std::string& ifname);

}  // namespace brisk

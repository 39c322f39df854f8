// The bare AF_XDP forwarder: the machine's ceiling for a userspace switch over AF_XDP on one
// core. `brisk-bench --afxdp-forwarder A B CPU BPF_OBJECT` (run by the harness as its own
// process, so its CPU time can be read from /proc) forwards every frame from device A to B and
// from B to A, nothing else: no parsing, no learning, no copies.
//
//   * XDP: brisk's own program (brisk_xdp.o, the same one briskd attaches), loaded once per
//     device in native mode, its XSKMAP pointing at the device's socket.
//   * One UMEM of 2048 chunks x 2048 bytes shared by both sockets (XDP_SHARED_UMEM); each
//     socket has its own FILL/COMPLETION rings. A received descriptor goes unchanged onto the
//     other socket's TX ring (zero copies in userspace; the kernel copies in and out, as veth
//     has no zero-copy mode). Chunks completed on B's COMPLETION ring return to A's FILL ring
//     and vice versa, so each direction keeps its own chunks; when the TX ring is full the
//     frames are dropped (chunks straight back to FILL).
//   * Busy polling, batches of 32 (what one copy-mode sendto() transmits), need_wakeup kicks
//   (sendto/recvfrom) only when asked.
// Runs until SIGTERM/SIGINT; then detaches the programs. Returns a process exit status.
#pragma once

#include <string>

namespace bench {

int afxdp_forwarder_main(const std::string& dev_a, const std::string& dev_b, int cpu,
                         const std::string& bpf_object);

}  // namespace bench

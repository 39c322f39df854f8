// brisk_xdp.c: brisk's XDP program, attached by AfXdpPort to every AF_XDP port's netdev.
//
// Today it does one thing: hand every received frame to the AF_XDP socket brisk bound to the
// frame's receive queue, via the XSKMAP `brisk_xsks` (key: rx queue index, value: the XSK fd,
// filled in from userspace). A queue without a socket in the map passes its frames to the
// kernel stack (XDP_PASS as bpf_redirect_map()'s fallback action), so attaching the program
// before the socket exists, or after it is gone, never black-holes traffic.
//
// Layout rules for later additions (a kernel fast path in front of the socket):
//   * maps are BTF-defined in the ".maps" section, named brisk_<purpose> (<= 15 characters,
//     the kernel's object name limit), one comment each saying who writes and who reads it;
//   * the entry point stays SEC("xdp") brisk_xdp_rx, which userspace looks up by name;
//   * anything the fast path does not handle ends in the XSKMAP redirect below.
//
// Built at build time with `clang -O2 -g -target bpf` (bpf/CMakeLists.txt); -g provides the
// BTF that libbpf needs for ".maps".
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// AF_XDP sockets by rx queue index. Written by userspace (AfXdpPort, one entry per bound
// queue); read by brisk_xdp_rx. Userspace resizes it before load when it binds a queue
// beyond the default size.
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} brisk_xsks SEC(".maps");

SEC("xdp")
int brisk_xdp_rx(struct xdp_md *ctx) {
  return bpf_redirect_map(&brisk_xsks, ctx->rx_queue_index, XDP_PASS);
}

// GPL-compatible, so the verifier lets later fast paths use every helper.
char _license[] SEC("license") = "GPL";

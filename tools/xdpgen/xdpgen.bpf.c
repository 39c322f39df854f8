// xdpgen.bpf.c: the two XDP programs of brisk-xdpgen (tools/xdpgen/xdpgen.cpp).
//   xdpgen_tx:   run by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on a template frame;
//                XDP_TX sends each copy out of the device the run is bound to.
//   xdpgen_sink: attached to the receiving device; counts and drops UDP frames to port 9
//                (the generator's), passes everything else (ARP, ping) to the stack.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} xdpgen_count SEC(".maps");

SEC("xdp")
int xdpgen_tx(struct xdp_md *ctx) { return XDP_TX; }

SEC("xdp")
int xdpgen_sink(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip = (void *)(eth + 1);
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end) return XDP_PASS;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP ||
      udp->dest != bpf_htons(9))
    return XDP_PASS;
  __u32 k = 0;
  __u64 *c = bpf_map_lookup_elem(&xdpgen_count, &k);
  if (c) *c += 1;
  return XDP_DROP;
}

char _license[] SEC("license") = "GPL";

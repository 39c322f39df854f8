// brisk_bench.c: the XDP programs of the benchmark harness (build/brisk-bench); not used by
// briskd. Its entry points, loaded from one object by bench/harness/xdp_traffic.cpp:
//
//   bench_gen   the live-frames traffic generator. The harness runs it with BPF_PROG_TEST_RUN in "live
//               frames" mode (BPF_F_TEST_XDP_LIVE_FRAMES) on the generator veth end, from a
//               60-byte UDP template (64 bytes on the wire with the FCS). For every frame it
//               writes the source MAC's low 24 bits (cycling through `nmacs` addresses) and a
//               marker into the payload; one frame in (stamp_mask + 1) also carries
//               bpf_ktime_get_ns() for the latency histogram. XDP_TX sends the frame out of
//               the generator veth, i.e. into its peer, the switch's port. A paced run
//               (gap256 != 0) sends a frame only once its time has come and drops the
//               iteration (XDP_DROP, not counted) before that: the harness stays in one
//               BPF_PROG_TEST_RUN call for the whole run, paced or not (see
//               bench/harness/xdp_traffic.hpp for why), and frames leave evenly spaced.
//               Where the kernel refuses live frames the harness's AF_XDP generator
//               (bench/harness/afxdp_gen.hpp) writes the same frames from userspace.
//   bench_loop, bench_loop_back  the loop generator, for kernels that refuse live frames: frames
//               circulate between the two ends of a veth pair, each turn sends one copy out
//               of the generator device (see bench_loop below).
//   bench_sink  on the receiving veth end (inside the sink namespace): frames with the
//               generator's marker are counted (frames, bytes, per CPU) and dropped; stamped
//               ones add their one-way latency to a log-linear histogram. Everything else
//               (ARP, ping, iperf3) passes to the stack.
//   bench_pass  XDP_PASS. A veth can only receive XDP_TX/redirected frames when its peer runs
//               an XDP program, so the harness puts this one on the switch's ingress port when
//               the switch itself attaches none (the kernel bridge).
//   bench_sink_tc  the same sink on tc ingress, for a sink device that runs no XDP program
//               (as a container's veth): the harness's "tc" sink.
//   bench_drop  XDP_DROP: the harness's probe of whether the kernel runs live frames at all
//               (one test run that sends nothing).
//   bench_count_all  on a mirror destination's far end (the harness's mirror test): counts
//               every frame (BENCH_CNT_ALL) and drops it. A mirror copies every frame of
//               its source, ARP and ping included, so the far end counts them all.
//
// The frame layout, markers, map value layouts and counter indexes are in brisk_bench_abi.h,
// shared with the harness.
// <linux/bpf.h> comes first: the libbpf headers use its types.
// clang-format off
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#include "brisk_bench_abi.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct bench_gen_cfg);
} bench_gen_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct bench_gen_state);
} bench_gen_st SEC(".maps");

// Sink counters per CPU, indexed by BENCH_CNT_*. Read by the harness.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BENCH_CNT_N);
  __type(key, __u32);
  __type(value, __u64);
} bench_sink_cnt SEC(".maps");

// Latency histogram per CPU, log-linear: values below 8 ns have their own bucket; above,
// bucket = msb * 8 + the 3 bits below the msb (12.5% resolution). Read by the harness.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BENCH_HIST_BUCKETS);
  __type(key, __u32);
  __type(value, __u64);
} bench_lat_hist SEC(".maps");

// The generator's work on one frame: 1 when a frame is due (its per-frame fields written,
// counted as offered), 0 when a paced run's next frame is not due yet, -1 on a bad frame.
static __always_inline int gen_frame(struct xdp_md* ctx) {
  unsigned char* p = (unsigned char*)(long)ctx->data;
  unsigned char* end = (unsigned char*)(long)ctx->data_end;
  if (p + BENCH_FRAME_MIN > end) return -1;
  __u32 k = 0;
  struct bench_gen_cfg* cfg = bpf_map_lookup_elem(&bench_gen_cfg, &k);
  struct bench_gen_state* st = bpf_map_lookup_elem(&bench_gen_st, &k);
  if (!cfg || !st) return -1;
  __u64 gap = cfg->gap256;
  if (gap != 0) {
    __u64 now = bpf_ktime_get_ns() << 8;
    __u64 due = st->next256;
    if (now < due) return 0;
    if (now - due > BENCH_GEN_CATCH_UP * gap) due = now;
    st->next256 = due + gap;
  }
  __u64 seq = st->seq++;
  __u32 mac = st->mac;
  st->mac = mac + 1 >= cfg->nmacs ? 0 : mac + 1;
  p[BENCH_OFF_SRC_MAC_LOW] = (unsigned char)(mac >> 16);
  p[BENCH_OFF_SRC_MAC_LOW + 1] = (unsigned char)(mac >> 8);
  p[BENCH_OFF_SRC_MAC_LOW + 2] = (unsigned char)mac;
  __u32 magic = BENCH_MAGIC;
  __u64 ts = 0;
  if ((seq & cfg->stamp_mask) == 0) {
    magic = BENCH_MAGIC_TS;
    ts = bpf_ktime_get_ns();
  }
  __builtin_memcpy(p + BENCH_OFF_MAGIC, &magic, sizeof(magic));
  __builtin_memcpy(p + BENCH_OFF_STAMP, &ts, sizeof(ts));
  return 1;
}

SEC("xdp")
int bench_gen(struct xdp_md* ctx) {
  int r = gen_frame(ctx);
  return r > 0 ? XDP_TX : r == 0 ? XDP_DROP : XDP_ABORTED;
}

struct {
  __uint(type, BPF_MAP_TYPE_DEVMAP);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u32);
} bench_loop_devs SEC(".maps");

// The loop generator, on <P>l1 of the veth pair <P>l0 == <P>l1 (bench_loop_back on <P>l0
// sends every frame straight back). The harness seeds the loop with a few template frames;
// each time one comes round and a frame is due, it is written as bench_gen writes it and
// broadcast to both devices of bench_loop_devs: one copy goes round again (out of <P>l1),
// the other out of the generator device toward the switch. A frame not due yet only goes
// round. loop_stop drops them all.
SEC("xdp")
int bench_loop(struct xdp_md* ctx) {
  __u32 k = 0;
  struct bench_gen_cfg* cfg = bpf_map_lookup_elem(&bench_gen_cfg, &k);
  if (!cfg || cfg->loop_stop) return XDP_DROP;
  int r = gen_frame(ctx);
  if (r < 0) return XDP_PASS;  // not a generator frame
  if (r == 0) return XDP_TX;
  return bpf_redirect_map(&bench_loop_devs, 0, BPF_F_BROADCAST);
}

SEC("xdp")
int bench_loop_back(struct xdp_md* ctx) {
  (void)ctx;
  return XDP_TX;
}

static __always_inline __u32 msb64(__u64 v) {
  __u32 r = 0;
  if (v >> 32) {
    v >>= 32;
    r += 32;
  }
  if (v >> 16) {
    v >>= 16;
    r += 16;
  }
  if (v >> 8) {
    v >>= 8;
    r += 8;
  }
  if (v >> 4) {
    v >>= 4;
    r += 4;
  }
  if (v >> 2) {
    v >>= 2;
    r += 2;
  }
  if (v >> 1) r += 1;
  return r;
}

static __always_inline void count(__u32 idx, __u64 add) {
  __u64* c = bpf_map_lookup_elem(&bench_sink_cnt, &idx);
  if (c) *c += add;
}

// The sink's work on one frame [p, end): a generator frame is counted (and its latency added
// to the histogram when stamped) and 1 returned; anything else returns 0 and goes on.
static __always_inline int sink_frame(const unsigned char* p, const unsigned char* end) {
  if (p + BENCH_FRAME_MIN > end) return 0;
  if (p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45 || p[23] != 17) return 0;
  __u16 dport;
  __builtin_memcpy(&dport, p + 36, sizeof(dport));
  if (dport != bpf_htons(BENCH_UDP_PORT)) return 0;
  __u32 magic;
  __builtin_memcpy(&magic, p + BENCH_OFF_MAGIC, sizeof(magic));
  if (magic != BENCH_MAGIC && magic != BENCH_MAGIC_TS) return 0;
  count(BENCH_CNT_FRAMES, 1);
  count(BENCH_CNT_BYTES, (__u64)(end - p));
  if (magic == BENCH_MAGIC_TS) {
    __u64 ts;
    __builtin_memcpy(&ts, p + BENCH_OFF_STAMP, sizeof(ts));
    __u64 now = bpf_ktime_get_ns();
    if (ts != 0 && now >= ts) {
      __u64 d = now - ts;
      __u32 b;
      if (d < 8) {
        b = (__u32)d;
      } else {
        __u32 m = msb64(d);
        b = m * 8 + (__u32)((d >> (m - 3)) & 7);
      }
      if (b >= BENCH_HIST_BUCKETS) b = BENCH_HIST_BUCKETS - 1;
      __u64* h = bpf_map_lookup_elem(&bench_lat_hist, &b);
      if (h) *h += 1;
      count(BENCH_CNT_STAMPED, 1);
    }
  }
  return 1;
}

SEC("xdp")
int bench_sink(struct xdp_md* ctx) {
  const unsigned char* p = (const unsigned char*)(long)ctx->data;
  const unsigned char* end = (const unsigned char*)(long)ctx->data_end;
  return sink_frame(p, end) ? XDP_DROP : XDP_PASS;
}

// The same sink on tc ingress (clsact, direct action) of a device that runs no XDP program,
// as a container's veth: frames arrive as skbs through the kernel's receive path.
SEC("tc")
int bench_sink_tc(struct __sk_buff* skb) {
  if (skb->len >= BENCH_FRAME_MIN && skb->data_end - skb->data < BENCH_FRAME_MIN)
    bpf_skb_pull_data(skb, BENCH_FRAME_MIN);
  const unsigned char* p = (const unsigned char*)(long)skb->data;
  const unsigned char* end = (const unsigned char*)(long)skb->data_end;
  return sink_frame(p, end) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("xdp")
int bench_count_all(struct xdp_md* ctx) {
  (void)ctx;
  count(BENCH_CNT_ALL, 1);
  return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md* ctx) {
  (void)ctx;
  return XDP_PASS;
}

SEC("xdp")
int bench_drop(struct xdp_md* ctx) {
  (void)ctx;
  return XDP_DROP;
}

char _license[] SEC("license") = "GPL";

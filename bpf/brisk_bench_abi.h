/* brisk_bench_abi.h: the one definition of what the benchmark harness's BPF programs
 * (bpf/brisk_bench.c) and its C++ side (bench/harness) share: the generator's frame layout
 * and markers, its configuration and per-CPU state, the sink's counter indexes and the
 * latency histogram's size. Included by both; plain C, no BPF or libc headers needed beyond
 * the fixed-width types each side brings (__u32/__u64 in BPF, <linux/types.h> in C++).
 *
 * Frame layout (offsets from the Ethernet header): 0 dst MAC, 6 src MAC (the generator
 * writes the low 24 bits, bytes 9-11, to cycle through source MACs), 12 type 0x0800,
 * 14 IPv4 (IHL 5, proto 17), 34 UDP (dst port BENCH_UDP_PORT), 42 u32 marker, 46 u64 stamp
 * (CLOCK_MONOTONIC ns, what bpf_ktime_get_ns() reads; 0 = none). 60 bytes, 64 on the wire. */
#ifndef BRISK_BENCH_ABI_H
#define BRISK_BENCH_ABI_H

#include <linux/types.h>

#define BENCH_UDP_PORT 9           /* discard */
#define BENCH_MAGIC 0x6b736972u    /* "risk": a generator frame without a timestamp */
#define BENCH_MAGIC_TS 0x6b736974u /* "tisk": with a timestamp at BENCH_OFF_STAMP */
#define BENCH_FRAME_MIN 54         /* the sink needs the marker and the stamp */
#define BENCH_FRAME_LEN 60         /* the template's length (64 on the wire with the FCS) */
#define BENCH_OFF_SRC_MAC_LOW 9    /* 3 bytes: the source MAC's low 24 bits */
#define BENCH_OFF_MAGIC 42
#define BENCH_OFF_STAMP 46
#define BENCH_HIST_BUCKETS 512

/* A paced generator that fell behind catches up at most this many frames at once (one batch);
 * beyond that it starts again from now, so a stall never becomes a larger burst. 16 lost 2%
 * of the frames at 500 kfps here. Both generators (bench_gen, the AF_XDP one) use it. */
#define BENCH_GEN_CATCH_UP 64

/* Sink counters per CPU (bench_sink_cnt): frames and bytes with the generator's marker,
 * stamped frames (added to the histogram), and every frame bench_count_all saw. */
#define BENCH_CNT_FRAMES 0
#define BENCH_CNT_BYTES 1
#define BENCH_CNT_STAMPED 2
#define BENCH_CNT_ALL 3
#define BENCH_CNT_N 4

/* bench_gen's settings (map bench_gen_cfg, one entry), written by the harness before each
 * run. */
struct bench_gen_cfg {
  __u32 nmacs;      /* source MACs to cycle through (1 = constant) */
  __u32 stamp_mask; /* stamp a frame when (seq & stamp_mask) == 0 */
  __u64 gap256;     /* paced: time between frames in 1/256 ns; 0 = unpaced */
  __u32 loop_stop;  /* bench_loop: nonzero drops the circulating frames (ends a run) */
  __u32 pad;
};

/* bench_loop's devmap (bench_loop_devs): the loop's own device and the one it sends from. */
#define BENCH_LOOP_DEV_SELF 0
#define BENCH_LOOP_DEV_OUT 1

/* bench_gen's state per CPU (map bench_gen_st); seq is the number of frames generated (the
 * offered count). */
struct bench_gen_state {
  __u64 seq;
  __u32 mac;
  __u32 pad;
  __u64 next256; /* paced: when the next frame is due, bpf_ktime_get_ns() in 1/256 ns */
};

#ifdef __cplusplus
static_assert(sizeof(struct bench_gen_cfg) == 24, "bench_gen_cfg layout");
static_assert(sizeof(struct bench_gen_state) == 24, "bench_gen_state layout");
static_assert(BENCH_OFF_STAMP + 8 <= BENCH_FRAME_LEN, "the stamp fits the template");
#endif

#endif /* BRISK_BENCH_ABI_H */

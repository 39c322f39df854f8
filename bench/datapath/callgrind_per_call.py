#!/usr/bin/python3
"""Instructions per frame of datapath functions, from callgrind, through brisk-microbench.

Runs one micro-benchmark under `valgrind --tool=callgrind`, then reads the call arcs of the
profile: for each named function, the number of calls and the instructions executed inside it
(inclusive: its callees count too), summed over every call site. Instructions per frame =
instructions of the functions / (calls of the first function x frames per call). The count is
exact (not sampled) and does not depend on the machine's load, unlike ns/frame; it includes the
few calls the benchmark makes outside its timed loop to check results (the same work).

  callgrind_per_call.py BIN BENCHMARK FRAMES_PER_CALL FUNCTION [FUNCTION...]
  callgrind_per_call.py BIN --tunnel        # every tunnel case of tunnel_{codec,port}_bench.cpp

BENCHMARK is an exact benchmark name (e.g. BM_TunnelEncap/vxlan/64/untagged); FUNCTION a
prefix of a demangled name (e.g. brisk::TunnelFraming::encap). Needs valgrind (Debian package
`valgrind`). Build with optimisation (the default RelWithDebInfo build has -O3 on the datapath).
"""
import os
import re
import subprocess
import sys
import tempfile


def profile(binary, bench):
    with tempfile.TemporaryDirectory(prefix="brisk-callgrind.") as d:
        out = os.path.join(d, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
               binary, "--benchmark_filter=^" + re.escape(bench) + "$",
               "--benchmark_min_time=0.02"]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 or "ERROR OCCURRED" in r.stdout:
            sys.exit("E: %s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr[-2000:]))
        if bench not in r.stdout:
            sys.exit("E: no benchmark named %s in %s" % (bench, binary))
        with open(out) as f:
            return f.read().splitlines()


def call_costs(lines):
    """{function name: [calls, inclusive Ir]} over every call arc of the profile."""
    names = {}  # compressed "(id)" -> name
    costs = {}
    cfn = None
    pending = None  # calls count waiting for its cost line
    npos, ir_at = 1, 0  # position columns ("positions: line"), index of Ir among the events
    for line in lines:
        if line.startswith("positions:"):
            npos = len(line.split()) - 1
            continue
        if line.startswith("events:"):
            ir_at = line.split()[1:].index("Ir")
            continue
        m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(2) is not None:
                names[m.group(1)] = m.group(2)
            if line.startswith("cfn="):
                cfn = names[m.group(1)]
            continue
        if line.startswith("calls="):
            pending = int(line.split("=")[1].split()[0])
            continue
        if pending is not None and line and (line[0].isdigit() or line[0] in "+-*"):
            ir = int(line.split()[npos + ir_at])
            c = costs.setdefault(cfn, [0, 0])
            c[0] += pending
            c[1] += ir
            pending = None
    return costs


def per_frame(binary, bench, frames_per_call, functions):
    costs = call_costs(profile(binary, bench))

    def find(prefix):
        hits = [(n, c) for n, c in costs.items() if n.startswith(prefix)]
        if len(hits) != 1:
            sys.exit("E: %d functions match %s in %s: %s" % (len(hits), prefix, bench,
                                                              [n for n, _ in hits]))
        return hits[0][1]

    found = [find(f) for f in functions]
    calls = found[0][0]
    ir = sum(c[1] for c in found)
    return calls, ir, ir / (calls * frames_per_call)


def tunnel_cases():
    variants = ["vxlan", "gre", "gre_key"]
    cases = []
    for v in variants:
        cases.append(("BM_TunnelHeader/" + v, 1, ["brisk::tunnel_header("]))
    for v in variants:
        for n in (64, 1500):
            for t in ("untagged", "tagged"):
                c = "%s/%d/%s" % (v, n, t)
                cases.append(("BM_TunnelDecap/" + c, 1, ["brisk::tunnel_decap("]))
                cases.append(("BM_TunnelEncap/" + c, 32, ["brisk::TunnelFraming::encap("]))
                cases.append(("BM_TunnelRx/" + c, 32, ["brisk::TunnelFraming::rx_finish(",
                                                       "brisk::TunnelFraming::rx_post("]))
    return cases


def main(argv):
    if len(argv) == 3 and argv[2] == "--tunnel":
        cases = tunnel_cases()
    elif len(argv) >= 5:
        cases = [(argv[2], int(argv[3]), argv[4:])]
    else:
        sys.exit(__doc__)
    print("%-36s %10s %14s %12s" % ("benchmark", "calls", "instructions", "instr/frame"))
    for bench, fpc, fns in cases:
        calls, ir, ipf = per_frame(argv[1], bench, fpc, fns)
        print("%-36s %10d %14d %12.1f" % (bench, calls, ir, ipf), flush=True)


if __name__ == "__main__":
    main(sys.argv)

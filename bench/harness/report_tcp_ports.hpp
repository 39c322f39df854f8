// report_tcp_ports: the TCP matrix's report (test_tcp_ports.hpp). One row per port kind, MTU
// and stream count: the medians of the rounds of brisk and of the bridge, Gbit/s and CPU
// seconds per GByte, each with its brisk/bridge ratio; then per kind how each switch ran, the
// bridge's reference, and what failed. As a table after the comparison's, or as the
// "tcp_ports" object of the JSON document (report.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include "bench/harness/options.hpp"
#include "bench/harness/test_tcp_ports.hpp"

namespace bench {

nlohmann::json tcp_ports_json(const Options& o, const TcpPortResults& r);
void print_tcp_ports_table(const Options& o, const Topology& t, const TcpPortResults& r);

}  // namespace bench

// table: the shapes the harness's reports share (report.hpp's comparison, report_mirror.hpp,
// report_tcp_ports.hpp): medians over the rounds, brisk's ratios and how they print, lookups
// that default to nothing, named counts on one line, and the table layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bench {

// The median of the values that are not NaN; NaN when none is.
double median(std::vector<double> v);

// The median of get(r) over the rounds r.
template <class Round, class Get>
double median_of(const std::vector<Round>& rounds, Get get) {
  std::vector<double> v;
  v.reserve(rounds.size());
  for (const auto& r : rounds) v.push_back(get(r));
  return median(v);
}

// a / b; NaN when b is not positive or a is NaN.
double ratio(double a, double b);
// A ratio in a table: "1.67x"; "-" for NaN.
std::string fmt_ratio(double q);

// m[k] when m has k, else an empty value (one per map type, never written).
template <class Map>
const typename Map::mapped_type& find_or_empty(const Map& m, const typename Map::key_type& k) {
  static const typename Map::mapped_type none{};
  auto it = m.find(k);
  return it == m.end() ? none : it->second;
}

// Named counts (a switch's drops by reason) in key order: "<name> <n>" joined by sep.
std::string join_counts(const std::map<std::string, std::uint64_t>& counts, const std::string& sep);

// A table's cells: the header row first.
using Rows = std::vector<std::vector<std::string>>;

// Rows of cells as a table on stdout: the first column left-aligned, the others right, " | "
// between them, trailing blanks cut; a rule of '-' and '+' after each row i with rule_after(i)
// (without it: after the header only).
void print_table(const Rows& rows, const std::function<bool(std::size_t)>& rule_after = {});

}  // namespace bench

#include "bench/harness/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/harness/text.hpp"

namespace bench {

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ratio(double a, double b) { return b > 0 && !std::isnan(a) ? a / b : NAN; }

std::string fmt_ratio(double q) { return std::isnan(q) ? std::string("-") : fmt(q, 2) + "x"; }

std::string join_counts(const std::map<std::string, std::uint64_t>& counts,
                        const std::string& sep) {
  std::string s;
  for (const auto& [name, n] : counts) s += (s.empty() ? "" : sep) + name + " " + std::to_string(n);
  return s;
}

void print_table(const Rows& rows, const std::function<bool(std::size_t)>& rule_after) {
  std::vector<std::size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (std::size_t ri = 0; ri < rows.size(); ++ri) {
    std::string line;
    for (std::size_t i = 0; i < rows[ri].size(); ++i) {
      const std::string& cell = rows[ri][i];
      std::string pad(w[i] - cell.size(), ' ');
      line += (i == 0 ? cell + pad : pad + cell);
      if (i + 1 < rows[ri].size()) line += " | ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
    if (rule_after ? rule_after(ri) : ri == 0) {
      std::string sep;
      for (std::size_t i = 0; i < w.size(); ++i)
        sep += std::string(w[i] + (i == 0 ? 1 : 2), '-') + (i + 1 < w.size() ? "+" : "");
      std::printf("%s\n", sep.c_str());
    }
  }
}

}  // namespace bench

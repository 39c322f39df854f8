#include "control/validate.hpp"

#include <charconv>

namespace brisk {

std::string ifname_problem(std::string_view n) {
  if (n.empty()) return "empty";
  if (n.size() > kMaxIfnameLen)
    return "longer than " + std::to_string(kMaxIfnameLen) + " characters";
  for (char ch : n) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return "contains a NUL byte";
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
      return "contains whitespace";
    if (c < 0x20 || c == 0x7f) return "contains a control character";
    if (c > 0x7e) return "contains a byte outside printable ASCII";
    if (c == '/' || c == ':' || c == '%') return std::string("contains '") + ch + "'";
  }
  if (n.front() == '-') return "starts with '-'";
  if (n == "." || n == "..") return "is '" + std::string(n) + "'";
  if (n == "all" || n == "default") return "'" + std::string(n) + "' is reserved";
  return "";
}

std::string check_ifname(std::string_view what, std::string_view name) {
  std::string why = ifname_problem(name);
  if (why.empty()) return "";
  return "invalid " + std::string(what) + " '" + printable(name) + "': " + why +
         " (want 1-15 printable ASCII characters, no '/', ':', '%' or whitespace, not "
         "starting with '-')";
}

std::optional<VlanId> parse_vlan_id(std::string_view s) {
  unsigned v = 0;
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (!valid_vlan_id(v)) return std::nullopt;
  return static_cast<VlanId>(v);
}

std::string vlan_id_error(std::string_view s, std::string_view what) {
  return "invalid " + std::string(what) + " '" + printable(s) + "': want 0-4094 (" +
         (s == "4095" ? "4095 is reserved by 802.1Q" : "0: untagged") + ")";
}

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (2-4 bytes, no overlong form, no
// surrogate, at most U+10FFFF) and its code point; 0 when there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc0 ? 2 : 0;
  if (len == 0 || b0 > 0xf4 || i + len > s.size()) return 0;
  cp = b0 & (0x7f >> len);
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void escape_byte(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

}  // namespace

std::string printable(std::string_view s, bool multiline) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c == '\n' && multiline) {
      out += '\n';
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    const std::size_t len = c >= 0x80 ? utf8_sequence(s, i, cp) : 0;
    if (len != 0 && cp > 0x9f) {  // printable beyond ASCII; C1 controls are escaped
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    const std::size_t n = len != 0 ? len : 1;
    for (std::size_t k = 0; k < n; ++k) escape_byte(out, static_cast<unsigned char>(s[i + k]));
    i += n;
  }
  return out;
}

}  // namespace brisk

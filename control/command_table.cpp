#include "control/command_table.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "control/switch.hpp"
#include "control/validate.hpp"

namespace brisk {

const ArgValue* CommandArgs::find(std::string_view name) const {
  for (const auto& [n, v] : values_)
    if (n == name) return &v;
  return nullptr;
}

std::string CommandArgs::text(std::string_view name, std::string fallback) const {
  const ArgValue* v = find(name);
  return v ? v->text : std::move(fallback);
}

const ArgValue& CommandArgs::at(std::string_view name) const {
  const ArgValue* v = find(name);
  if (v == nullptr) throw std::logic_error("command argument " + std::string(name) + " not given");
  return *v;
}

bool CommandArgs::has(std::string_view name) const {
  return find(name) != nullptr ||
         std::find(options_.begin(), options_.end(), name) != options_.end();
}

bool CommandArgs::add(std::string_view name, ArgValue v) {
  if (find(name) != nullptr) return false;
  values_.emplace_back(name, std::move(v));
  return true;
}

bool CommandArgs::add_option(std::string_view keyword) {
  if (std::find(options_.begin(), options_.end(), keyword) != options_.end()) return false;
  options_.push_back(keyword);
  return true;
}

namespace {

std::string label_of(const ArgSpec& a) { return std::string(a.label.empty() ? a.name : a.label); }

// "a, b or c"
std::string one_of(const std::vector<std::string_view>& words) {
  std::string s;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) s += i + 1 == words.size() ? " or " : ", ";
    s += words[i];
  }
  return s;
}

std::string invalid(const ArgSpec& a, const std::string& word, const std::string& want) {
  return "invalid " + label_of(a) + " '" + printable(word) + "': want " + want;
}

std::string parse_uint_value(const ArgSpec& a, const std::string& word, ArgValue& out) {
  if (!a.alt.empty() && word == a.alt) return "";
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
  if (ec == std::errc() && p == word.data() + word.size() && v >= a.min && v <= a.max) {
    out.number = v;
    return "";
  }
  std::string want = std::to_string(a.min) + "-" + std::to_string(a.max);
  if (!a.unit.empty()) want += " " + std::string(a.unit);
  if (!a.alt.empty()) want += " or " + std::string(a.alt);
  return invalid(a, word, want);
}

// A minimega VLAN alias: a letter, then letters, digits, '_', '-' or '/'.
bool valid_alias(const std::string& s) {
  bool ok = !s.empty() && std::isalpha(static_cast<unsigned char>(s[0]));
  for (char c : s)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/');
  return ok;
}

std::string parse_ip_list(const ArgSpec& a, const std::string& word, ArgValue& out) {
  std::size_t pos = 0;
  while (pos <= word.size()) {
    std::size_t comma = word.find(',', pos);
    std::string ip = word.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!parse_ip_into(ip, out.v4, out.v6))
      return invalid(a, ip, "IPv4 or IPv6 addresses separated by commas");
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return "";
}

}  // namespace

std::string parse_arg_value(const ArgSpec& a, const std::string& word, ArgValue& out) {
  out.text = word;
  switch (a.kind) {
    case ArgKind::kWord:
      return "";
    case ArgKind::kUint:
      return parse_uint_value(a, word, out);
    case ArgKind::kVlanOrAlias:
      if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos)
        return valid_alias(word) ? "" : invalid(a, word, "0-4094 or an alias");
      [[fallthrough]];
    case ArgKind::kVlan: {
      auto v = parse_vlan_id(word);
      if (!v) return vlan_id_error(word, label_of(a));
      out.vlan = *v;
      return "";
    }
    case ArgKind::kVlanList: {
      auto set = parse_vlan_list(word);
      if (!set) return invalid(a, word, "e.g. 10,20,30-40 or all (VLANs 0-4094)");
      out.vlans = *set;
      return "";
    }
    case ArgKind::kMac: {
      auto mac = MacAddr::parse(word);
      if (!mac) return invalid(a, word, "aa:bb:cc:dd:ee:ff");
      out.mac = *mac;
      return "";
    }
    case ArgKind::kIpList:
      return parse_ip_list(a, word, out);
    case ArgKind::kPath:
      return word.empty() ? invalid(a, word, "a file name") : "";
    case ArgKind::kChoice:
      if (std::find(a.choices.begin(), a.choices.end(), word) != a.choices.end()) return "";
      return "unknown " + label_of(a) + " '" + printable(word) + "': want " + one_of(a.choices);
  }
  return "";
}

namespace {

// <name>, <frames/s>|off, on|off
std::string shown(const ArgSpec& a) {
  if (a.kind == ArgKind::kChoice) {
    std::string s;
    for (auto c : a.choices) s += (s.empty() ? "" : "|") + std::string(c);
    return s;
  }
  std::string s = "<" + std::string(a.shown.empty() ? a.name : a.shown) + ">";
  if (!a.alt.empty()) s += "|" + std::string(a.alt);
  if (a.repeated) s += "...";
  return s;
}

std::string option_text(const OptionSpec& o) {
  std::string s(o.keyword);
  for (const auto& a : o.args) s += " " + (a.optional ? "[" + shown(a) + "]" : shown(a));
  return s;
}

bool is_keyword(const CommandSpec& c, std::string_view w) {
  return std::any_of(c.options.begin(), c.options.end(),
                     [&](const OptionSpec& o) { return o.keyword == w; });
}

std::vector<std::string_view> exclusive_keywords(const CommandSpec& c) {
  std::vector<std::string_view> v;
  for (const auto& o : c.options)
    if (o.exclusive) v.push_back(o.keyword);
  return v;
}

struct Parser {
  const CommandSpec& c;
  std::span<const std::string> w;
  std::size_t i = 0;
  ParsedCommand out;

  bool fail(std::string msg) {
    out.error = std::move(msg);
    return false;
  }
  bool usage(const std::string& what) { return fail(what + "; usage: " + command_usage(c)); }

  bool value(const ArgSpec& a) {
    ArgValue v;
    if (a.repeated) {
      for (; i < w.size(); ++i) {
        ArgValue one;
        if (std::string e = parse_arg_value(a, w[i], one); !e.empty()) return fail(e);
        v.text += (v.words.empty() ? "" : " ") + w[i];
        v.words.push_back(w[i]);
      }
    } else if (std::string e = parse_arg_value(a, w[i++], v); !e.empty()) {
      return fail(e);
    }
    if (!out.args.add(a.name, std::move(v))) return usage(label_of(a) + " given twice");
    return true;
  }

  // An optional positional is left out at the end, before a keyword, or (a choice) before a
  // word that is not one of its choices.
  bool leaves_out(const ArgSpec& a) const {
    if (i >= w.size() || is_keyword(c, w[i])) return true;
    return a.kind == ArgKind::kChoice &&
           std::find(a.choices.begin(), a.choices.end(), w[i]) == a.choices.end();
  }

  bool positionals() {
    for (const auto& a : c.args) {
      if (a.optional && leaves_out(a)) return true;  // and everything after it
      if (i >= w.size()) return usage("missing " + shown(a));
      if (!value(a)) return false;
    }
    return true;
  }

  bool option(const OptionSpec& o) {
    if (o.exclusive)
      for (auto k : exclusive_keywords(c))
        if (k != o.keyword && out.args.has(k))
          return usage("'" + std::string(o.keyword) + "' cannot go with '" + std::string(k) + "'");
    if (!out.args.add_option(o.keyword)) return usage(std::string(o.keyword) + " given twice");
    for (const auto& a : o.args) {
      bool absent = i >= w.size() || (a.optional && is_keyword(c, w[i]));
      if (absent && a.optional) break;
      if (absent) return usage("missing " + shown(a) + " after " + std::string(o.keyword));
      if (!value(a)) return false;
    }
    return true;
  }

  bool options() {
    while (i < w.size()) {
      auto o = std::find_if(c.options.begin(), c.options.end(),
                            [&](const OptionSpec& x) { return x.keyword == w[i]; });
      if (o != c.options.end()) {
        ++i;
        if (!option(*o)) return false;
        continue;
      }
      bool want_mode = c.exclusive_required &&
                       !std::any_of(c.options.begin(), c.options.end(), [&](const OptionSpec& x) {
                         return x.exclusive && out.args.has(x.keyword);
                       });
      if (want_mode)
        return fail("unknown " + std::string(c.exclusive_name) + " '" + printable(w[i]) +
                    "': want " + one_of(exclusive_keywords(c)));
      return usage("unexpected '" + printable(w[i]) + "'");
    }
    return true;
  }

  bool complete() {
    bool have_exclusive = false;
    for (const auto& o : c.options) {
      bool given = out.args.has(o.keyword);
      have_exclusive = have_exclusive || (o.exclusive && given);
      if (o.required && !given) return usage("missing " + option_text(o));
      if (given && !o.needs.empty() && !out.args.has(o.needs))
        return usage("'" + std::string(o.keyword) + "' needs " + std::string(o.needs));
    }
    if (c.exclusive_required && !have_exclusive)
      return usage("missing " + std::string(c.exclusive_name) + " (" +
                   one_of(exclusive_keywords(c)) + ")");
    return true;
  }
};

}  // namespace

ParsedCommand parse_command_args(const CommandSpec& c, std::span<const std::string> words) {
  Parser p{c, words};
  if (p.positionals() && p.options()) p.complete();
  return std::move(p.out);
}

std::string command_usage(const CommandSpec& c) {
  std::string s;
  for (auto w : c.words) s += (s.empty() ? "" : " ") + std::string(w);
  std::size_t open = 0;
  for (const auto& a : c.args) {
    s += a.optional ? " [" : " ";
    open += a.optional ? 1 : 0;
    s += shown(a);
  }
  s += std::string(open, ']');
  bool exclusive_done = false;
  for (const auto& o : c.options) {
    if (!o.exclusive) {
      s += o.required ? " " + option_text(o) : " [" + option_text(o) + "]";
      continue;
    }
    if (exclusive_done) continue;
    exclusive_done = true;
    std::string alts;
    for (const auto& x : c.options)
      if (x.exclusive) alts += (alts.empty() ? "" : " | ") + option_text(x);
    s += c.exclusive_required ? " (" + alts + ")" : " [" + alts + "]";
  }
  return s;
}

std::string command_help(std::span<const CommandSpec> table) {
  constexpr std::size_t kColumn = 44;  // where the one-line help starts
  std::string s;
  for (const auto& c : table) {
    std::string u = "  " + command_usage(c);
    if (u.size() + 2 <= kColumn)
      s += u + std::string(kColumn - u.size(), ' ');
    else
      s += u + "\n" + std::string(kColumn, ' ');
    s += std::string(c.help) + "\n";
  }
  return s;
}

namespace {

// A definition list entry: the usage, then the text with its continuation lines indented.
std::string markdown_entry(const CommandSpec& c) {
  std::string doc(c.doc.empty() ? c.help : c.doc);
  while (!doc.empty() && doc.back() == '\n') doc.pop_back();
  std::string s = "`" + command_usage(c) + "`\n: ";
  for (char ch : doc) {
    s += ch;
    if (ch == '\n') s += "  ";
  }
  return s + "\n\n";
}

}  // namespace

std::string command_markdown(std::span<const CommandSpec> table,
                             std::span<const CommandSection> sections) {
  std::string s = "| command | what it does |\n|---|---|\n";
  for (const auto& sec : sections) {
    std::string names;
    for (const auto& c : table) {
      if (c.section != sec.title) continue;
      std::string n;
      for (auto w : c.words) n += (n.empty() ? "" : " ") + std::string(w);
      names += (names.empty() ? "`" : ", `") + n + "`";
    }
    s += "| " + names + " | " + std::string(sec.summary) + " |\n";
  }
  for (const auto& sec : sections) {
    s += "\n### " + std::string(sec.title) + "\n\n";
    for (const auto& c : table)
      if (c.section == sec.title) s += markdown_entry(c);
    if (!sec.notes.empty()) s += std::string(sec.notes);
    while (s.size() >= 2 && s.ends_with("\n\n")) s.pop_back();
  }
  return s + "\n";
}

}  // namespace brisk

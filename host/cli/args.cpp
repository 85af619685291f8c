// Command-line parsing and help text.
#include "cli/args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "ppmf/common.hpp"

namespace ppmf::cli {

Args::Args(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)) {}

Args& Args::option(const std::string& name, const std::string& fallback, const std::string& help,
                   const std::string& metavar) {
  order_.push_back(name);
  specs_[name] = {fallback, help, metavar, false};
  return *this;
}

Args& Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {"", help, "", true};
  return *this;
}

const Args::Spec& Args::spec(const std::string& name) const {
  const auto it = specs_.find(name);
  if (it == specs_.end()) throw Error("internal: option --" + name + " was not declared");
  return it->second;
}

bool Args::parse(int argc, char** argv) {
  for (int k = 0; k < argc; ++k) {
    std::string a = argv[k];
    if (a == "--help" || a == "-h") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (a.rfind("--", 0) != 0)
      throw Error(command_ + ": unexpected argument '" + a + "' (see ppmf-gpu " + command_ +
                  " --help)");
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const auto it = specs_.find(name);
    if (it == specs_.end())
      throw Error(command_ + ": unknown option --" + name + " (see ppmf-gpu " + command_ +
                  " --help)");
    if (it->second.is_flag) {
      if (inline_value) throw Error(command_ + ": --" + name + " takes no value");
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (k + 1 >= argc) throw Error(command_ + ": --" + name + " needs a value");
      value = argv[++k];
    }
    values_[name] = value;
  }
  return true;
}

bool Args::given(const std::string& name) const {
  spec(name);
  return values_.count(name) > 0;
}

std::string Args::str(const std::string& name) const {
  const auto it = values_.find(name);
  return it != values_.end() ? it->second : spec(name).fallback;
}

namespace {

// The integer `text`, or nothing when it is not one within [min, max].
bool parse_integer(const std::string& text, long long min, long long max, long long& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && errno == 0 && out >= min && out <= max;
}

}  // namespace

long long Args::integer(const std::string& name, long long min, long long max) const {
  const std::string s = str(name);
  long long v = 0;
  if (!parse_integer(s, min, max, v)) {
    const bool any_int =
        min == std::numeric_limits<int>::min() && max == std::numeric_limits<int>::max();
    throw Error(command_ + ": --" + name + " must be an integer" +
                (any_int ? "" : " in [" + std::to_string(min) + ", " + std::to_string(max) + "]") +
                ", got '" + s + "'");
  }
  return v;
}

std::vector<long long> Args::integer_list(const std::string& name, long long min,
                                          long long max) const {
  const std::string s = str(name);
  std::vector<long long> out;
  std::stringstream parts(s);
  for (std::string part; std::getline(parts, part, ',');) {
    long long v = 0;
    if (!parse_integer(part, min, max, v)) {
      out.clear();
      break;
    }
    out.push_back(v);
  }
  if (out.empty())
    throw Error(command_ + ": --" + name + " must be a comma-separated list of integers in [" +
                std::to_string(min) + ", " + std::to_string(max) + "], got '" + s + "'");
  return out;
}

double Args::real(const std::string& name, double min, double max) const {
  const std::string s = str(name);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v) || v < min || v > max) {
    char range[96] = "";
    if (min > -std::numeric_limits<double>::max() || max < std::numeric_limits<double>::max())
      std::snprintf(range, sizeof range, " in [%g, %g]", min, max);
    throw Error(command_ + ": --" + name + " must be a number" + range + ", got '" + s + "'");
  }
  return v;
}

int Args::int_value(const std::string& name) const {
  return static_cast<int>(
      integer(name, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

double Args::number(const std::string& name) const {
  return real(name, -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
}

std::string Args::help() const {
  std::string out =
      "usage: ppmf-gpu " + command_ + " " + usage_ + "\n\n" + summary_ + "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " " + s.metavar);
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left += "\n" + std::string(28, ' ');
    out += left + s.help;
    if (!s.is_flag && !s.fallback.empty()) out += " (default: " + s.fallback + ")";
    out += "\n";
  }
  out += "  --help                    show this help\n";
  return out;
}

}  // namespace ppmf::cli

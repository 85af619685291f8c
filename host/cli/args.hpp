// A small command-line parser that also writes each subcommand's --help, defaults included, from
// the same declarations, so the two cannot drift apart.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ppmf::cli {

class Args {
 public:
  Args(std::string command, std::string usage, std::string summary);

  // An option taking a value; `fallback` is printed as the default ("" = no default).
  Args& option(const std::string& name, const std::string& fallback, const std::string& help,
               const std::string& metavar = "X");
  Args& flag(const std::string& name, const std::string& help);

  // Returns false when --help was asked for (and printed to stdout). Throws Error on bad usage.
  bool parse(int argc, char** argv);

  bool given(const std::string& name) const;  // set on the command line
  std::string str(const std::string& name) const;
  long long integer(const std::string& name, long long min, long long max) const;
  // A comma-separated list of integers, each in [min, max] (at least one).
  std::vector<long long> integer_list(const std::string& name, long long min, long long max) const;
  double real(const std::string& name, double min, double max) const;
  // Any int / any finite number: for settings whose range the library checks (validate()).
  int int_value(const std::string& name) const;
  double number(const std::string& name) const;
  std::string help() const;

 private:
  struct Spec {
    std::string fallback, help, metavar;
    bool is_flag = false;
  };
  const Spec& spec(const std::string& name) const;
  std::string command_, usage_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
};

}  // namespace ppmf::cli

// Shared subcommand options.
#include "cli/common.hpp"

#include <cstdio>
#include <sstream>

namespace ppmf::cli {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void add_read_options(Args& args, bool need_value) {
  args.option("columns", need_value ? "1,2,3" : "1,2",
              need_value ? "user,item,value columns: header names or 1-based positions"
                         : "user,item columns: header names or 1-based positions",
              "LIST");
  if (need_value)
    args.option("duplicates", "error", "repeated (user,item) pairs: error|sum|mean|last", "POLICY");
  args.flag("skip-bad-lines", "skip malformed lines (counted on stderr) instead of failing");
}

Ratings load_table(const Args& args, const std::string& path, bool need_value) {
  ReadOptions opts;
  opts.need_value = need_value;
  std::stringstream ss(args.str("columns"));
  for (std::string col; std::getline(ss, col, ',');) opts.columns.push_back(col);
  if (opts.columns.size() != (need_value ? 3u : 2u))
    throw Error(std::string("--columns needs ") + (need_value ? "3 entries (user,item,value)" : "2 entries (user,item)"));
  if (need_value) opts.duplicates = parse_duplicate_policy(args.str("duplicates"));
  opts.skip_bad_lines = args.given("skip-bad-lines");
  ReadReport report;
  Ratings r = read_ratings(path, opts, &report);
  if (report.bad_lines_skipped > 0)
    std::fprintf(stderr, "%s: skipped %zu bad line(s)\n", path.c_str(), report.bad_lines_skipped);
  if (report.duplicates_merged > 0)
    std::fprintf(stderr, "%s: merged %zu duplicate line(s) (--duplicates %s)\n", path.c_str(),
                 report.duplicates_merged, args.str("duplicates").c_str());
  return r;
}

void add_group_options(Args& args, const std::string& when) {
  args.option("user-groups", "", "CSV id,group of users" + when, "FILE");
  args.option("item-groups", "", "CSV id,group of items" + when, "FILE");
}

std::optional<GroupFile> load_groups(const Args& args, const std::string& option) {
  if (!args.given(option)) return std::nullopt;
  return read_group_file(args.str(option));
}

void add_device_options(Args& args, const std::string& default_device) {
  args.option("device", default_device, "cpu, auto (a GPU if usable, else the CPU) or a GPU index", "DEV");
  args.option("threads", "0", "CPU threads (0 = all hardware threads)", "N");
}

std::unique_ptr<Backend> open_backend(const Args& args) {
  return make_backend(parse_device(args.str("device")), static_cast<int>(args.integer("threads", 0, 1024)));
}

}  // namespace ppmf::cli

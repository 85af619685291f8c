// Shared subcommand options.
#include "cli/common.hpp"

#include <cstdio>
#include <limits>
#include <sstream>

#include "ppmf/devices.hpp"
#include "ppmf/distributed.hpp"
#include "ppmf/files.hpp"
#include "ppmf/watch.hpp"

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

namespace {
Comm* g_run_comm = nullptr;
int g_local_rank = 0;
}  // namespace

Comm* run_comm() { return g_run_comm; }
void set_run_comm(Comm* comm, int local_rank) {
  g_run_comm = comm;
  g_local_rank = local_rank;
}
bool is_rank_zero() { return g_run_comm == nullptr || g_run_comm->rank() == 0; }

ReadOptions read_options(const Args& args, bool need_value, const std::string& time_column) {
  ReadOptions opts;
  opts.need_value = need_value;
  opts.time_column = time_column;
  std::stringstream ss(args.str("columns"));
  for (std::string col; std::getline(ss, col, ',');) opts.columns.push_back(col);
  if (opts.columns.size() != (need_value ? 3u : 2u))
    throw Error(std::string("--columns needs ") +
                (need_value ? "3 entries (user,item,value)" : "2 entries (user,item)"));
  if (need_value) opts.duplicates = parse_duplicate_policy(args.str("duplicates"));
  opts.skip_bad_lines = args.given("skip-bad-lines");
  return opts;
}

Ratings load_table(const Args& args, const std::string& paths, bool need_value,
                   const std::string& time_column) {
  ReadReport report;
  Ratings r = read_tables(expand_data_paths(paths), read_options(args, need_value, time_column),
                          &report);
  if (report.bad_lines_skipped > 0)
    std::fprintf(stderr, "%s: skipped %zu bad line(s)\n", paths.c_str(), report.bad_lines_skipped);
  if (report.duplicates_merged > 0)
    std::fprintf(stderr, "%s: merged %zu duplicate line(s) (--duplicates %s)\n", paths.c_str(),
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

void add_training_options(Args& args, const std::string& default_transform) {
  const ModelConfig mc;
  const TrainConfig tc;
  args.option("transform", default_transform, "value transform: none|log1p (log1p for watch time)",
              "T")
      .option("rank", num(mc.rank), "number of latent factors d (0 = a biases-only model)", "D")
      .flag("no-pool", "unpooled baseline: fixed N(0, I) priors, no hyperparameter updates")
      .option("tau", num(mc.tau), "sd of group means around the population mean", "X")
      .option("prec-a0", num(mc.prec_a0),
              "hyperprior shape: Wishart(2 a0 + d, I/(2 b0)) on group precisions (>= 1)", "X")
      .option("prec-b0", num(mc.prec_b0), "hyperprior rate b0 (see --prec-a0)", "X")
      .option("init-sd", num(mc.init_sd), "initial sd of guide means and scales", "X")
      .option("epochs", num(tc.epochs), "maximum epochs (exact sweeps over users, then items)", "N")
      .option("valid-frac", num(tc.valid_frac),
              "fraction of the training entries held back to choose the number of epochs, which\n"
              "                            then trains on all entries (0 = no validation: run "
              "--epochs)",
              "F")
      .flag("no-refit", "keep the chosen epoch of the run without the validation entries")
      .option("patience", num(tc.patience),
              "early stop once N epochs improved the validation NLL by less than --min-improvement\n"
              "                            (0 = off)",
              "N")
      .option("min-improvement", num(tc.min_improvement),
              "validation NLL gain (nats per entry) that counts as progress", "X")
      .option("seed", num(static_cast<double>(tc.seed)), "random seed (splits, initial guide)", "S")
      .flag("no-watch", "do not train the watch model (which items users watch; recommend's\n"
                        "                            watch and expected objectives need it)")
      .option("watch-rank", "", "latent factors of the watch model (default: --rank)", "D")
      .option("watch-alpha", num(tc.watch.alpha),
              "watch model: extra precision of a watched pair over an unwatched one (0 = chosen\n"
              "                            on a validation split of the training entries, or the\n"
              "                            --warm-start model's)",
              "X")
      .option("watch-zero-weight", num(tc.watch.zero_weight),
              "watch model: precision of an unwatched pair (all of them, never materialised;\n"
              "                            0 = chosen on a validation split with --watch-alpha 0)",
              "X")
      .option("watch-epochs", num(tc.watch.epochs), "watch model: sweeps", "N")
      .flag("quiet", "no per-epoch lines on stderr");
}

ModelConfig model_config_from(const Args& args) {
  ModelConfig c;
  c.rank = args.int_value("rank");
  c.transform = parse_transform(args.str("transform"));
  c.pool = !args.given("no-pool");
  c.tau = static_cast<float>(args.number("tau"));
  c.prec_a0 = static_cast<float>(args.number("prec-a0"));
  c.prec_b0 = static_cast<float>(args.number("prec-b0"));
  c.init_sd = static_cast<float>(args.number("init-sd"));
  validate(c);
  return c;
}

TrainConfig train_config_from(const Args& args) {
  TrainConfig t;
  t.epochs = args.int_value("epochs");
  t.valid_frac = args.number("valid-frac");
  t.patience = args.int_value("patience");
  t.refit = !args.given("no-refit");
  t.min_improvement = args.number("min-improvement");
  t.seed = seed_from(args);
  t.watch.enabled = !args.given("no-watch");
  if (args.given("watch-rank")) t.watch.rank = args.int_value("watch-rank");
  t.watch.alpha = static_cast<float>(args.number("watch-alpha"));
  t.watch.zero_weight = static_cast<float>(args.number("watch-zero-weight"));
  t.watch.epochs = args.int_value("watch-epochs");
  validate(t);
  return t;
}

uint64_t seed_from(const Args& args) {
  return static_cast<uint64_t>(args.integer("seed", 0, std::numeric_limits<int64_t>::max()));
}

void add_new_user_options(Args& args) {
  args.flag("plain-prior",
            "new users start from their group's plain prior mean instead of the size-biased one\n"
            "                            (the group's members weighted by the entries they go on to "
            "make)");
}

FoldInOptions fold_in_options(const Args& args) {
  FoldInOptions o;
  o.plain_prior = args.given("plain-prior");
  o.threads = args.int_value("threads");
  return o;
}

void add_device_options(Args& args, const std::string& default_device) {
  args.option("device", default_device, "cpu, auto (a GPU if usable, else the CPU) or a GPU index",
              "DEV");
  args.option("threads", "0",
              "CPU threads (0 = the CPUs this process may use: affinity and cgroup quota)", "N");
}

DeviceSpec device_spec(const Args& args, bool resolve_auto) {
  DeviceSpec device = parse_device(args.str("device"));
  if ((run_comm() != nullptr || resolve_auto) && device.kind == DeviceSpec::kAuto) {
    std::string why_none;
    const std::vector<GpuInfo> gpus = list_gpus(&why_none);
    device.kind = gpus.empty() ? DeviceSpec::kCpu : DeviceSpec::kGpu;
    if (!gpus.empty()) device.gpu = gpus[static_cast<size_t>(g_local_rank) % gpus.size()].index;
  }
  device.threads = args.int_value("threads");
  return device;
}

std::unique_ptr<Backend> open_backend(const Args& args) { return open_backend(device_spec(args)); }

std::unique_ptr<Backend> open_backend(const DeviceSpec& device) {
  std::string note;
  auto backend = make_backend(device, &note);
  if (!note.empty()) std::fprintf(stderr, "ppmf-gpu: note: %s\n", note.c_str());
  return backend;
}

std::unique_ptr<Backend> open_watch_backend(const Args& args, const Model& model) {
  if (!model.watch.present) return nullptr;
  auto backend = open_backend(args);
  backend->load_model(watch_view(model));
  return backend;
}

void add_objective_option(Args& args) {
  args.option("objective", "auto",
              "rank by: watch (how likely the user is to watch), minutes (the predicted value if\n"
              "                            watched), expected (watch x expected value); auto: "
              "watch, or\n"
              "                            minutes for a model without a watch part",
              "OBJ");
}

void check_paths(const Args& args, const std::vector<std::string>& inputs,
                 const std::vector<std::string>& outputs,
                 const std::vector<std::pair<std::string, std::string>>& may_replace) {
  const auto roles = [&](const std::vector<std::string>& options) {
    std::vector<PathRole> out;
    for (const std::string& o : options) {
      const size_t slash = o.find('/');
      const std::string option = o.substr(0, slash);
      std::string path = args.str(option);
      if (!path.empty() && slash != std::string::npos) path += o.substr(slash);
      // A list or pattern of files (--data): each file it names.
      if (path.find_first_of(",*?[") != std::string::npos) {
        try {
          for (const std::string& file : expand_data_paths(path)) out.push_back({"--" + option, file});
          continue;
        } catch (const Error&) {  // reported when the files are read
        }
      }
      out.push_back({"--" + option, path});
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> replace;
  for (const auto& [in, out] : may_replace) replace.emplace_back("--" + in, "--" + out);
  check_distinct_paths(roles(inputs), roles(outputs), replace);
}

std::string flag_of(const std::string& field) {
  std::string flag = "--" + field;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

}  // namespace ppmf::cli

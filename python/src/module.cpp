// _ppmf: the Python binding of libppmf. It only converts: Python values to the library's structs
// and back (reports through the library's JSON renderers, posteriors as numpy arrays). The
// user-facing API (keyword defaults, pandas, DataFrames) is the pure-Python layer in ppmf/.
//
// Training and scoring release the GIL. Callbacks take it back; the cancel poll runs Python's
// signal handlers, so Ctrl-C stops training between row ranges with KeyboardInterrupt.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ppmf/watch.hpp"
#include "ppmf/files.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/coldstart.hpp"
#include "ppmf/devices.hpp"
#include "ppmf/evaluate.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/json.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/reader.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "ppmf/synth.hpp"

namespace py = pybind11;

namespace ppmf {
namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::list names_of(const IdMap& ids) {
  py::list out(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    const std::string_view n = ids.name(static_cast<int32_t>(k));
    out[k] = py::str(n.data(), n.size());
  }
  return out;
}

// The distinct ids of a column, in order; two that spell the same string (42 and "42") are refused
// rather than merged, since their entries' codes would then disagree with the map.
IdMap id_map_of(const std::vector<std::string>& names, const std::string& what) {
  IdMap m;
  for (const std::string& n : names) {
    if (m.find(n) >= 0)
      throw Error(what + ": the id '" + n + "' is given in two forms (such as 42 and \"42\")");
    m.insert(n);
  }
  return m;
}

std::vector<int32_t> codes_of(const Array<int32_t>& codes, size_t n_names, const std::string& what) {
  std::vector<int32_t> out(codes.data(), codes.data() + codes.size());
  for (const int32_t c : out)
    if (c < 0 || static_cast<size_t>(c) >= n_names)
      throw Error(what + ": an id code is out of range (internal error)");
  return out;
}

// A table from factorized columns: ids as codes into lists of distinct names in first-occurrence
// order (what the reader builds from a file with the same rows), values on the raw scale.
std::shared_ptr<Ratings> make_table(const std::string& name, const Array<int32_t>& user_codes,
                                    const std::vector<std::string>& user_names,
                                    const Array<int32_t>& item_codes,
                                    const std::vector<std::string>& item_names,
                                    const std::optional<Array<float>>& values,
                                    const std::optional<Array<double>>& times,
                                    const std::string& duplicates) {
  const size_t n = static_cast<size_t>(user_codes.size());
  if (static_cast<size_t>(item_codes.size()) != n ||
      (values && static_cast<size_t>(values->size()) != n) ||
      (times && static_cast<size_t>(times->size()) != n))
    throw Error(name + ": the user, item, value and time columns differ in length");
  auto r = std::make_shared<Ratings>();
  r->users = id_map_of(user_names, name);
  r->items = id_map_of(item_names, name);
  r->user = codes_of(user_codes, user_names.size(), name);
  r->item = codes_of(item_codes, item_names.size(), name);
  if (values) {
    r->value.assign(values->data(), values->data() + n);
    for (size_t k = 0; k < n; ++k)
      if (!std::isfinite(r->value[k]))
        throw Error(name + ": entry " + std::to_string(k) + " has a value that is not a number");
  } else {
    r->value.assign(n, 0.0f);
  }
  if (times) r->time.assign(times->data(), times->data() + n);
  if (values) merge_duplicate_entries(*r, parse_duplicate_policy(duplicates), name);
  return r;
}

std::shared_ptr<Ratings> read_table(const std::string& path, const std::vector<std::string>& columns,
                                    bool need_value, const std::string& duplicates,
                                    bool skip_bad_lines, const std::string& time_column) {
  ReadOptions o;
  o.columns = columns;
  o.need_value = need_value;
  o.duplicates = parse_duplicate_policy(duplicates);
  o.skip_bad_lines = skip_bad_lines;
  o.time_column = time_column;
  py::gil_scoped_release unlocked;
  return std::make_shared<Ratings>(read_ratings(path, o));
}

const GroupFile* ptr(const std::optional<GroupFile>& g) {
  return g ? &*g : nullptr;
}

std::unique_ptr<Backend> open_backend(const std::string& device, int threads,
                                      std::string* note = nullptr) {
  DeviceSpec spec = parse_device(device);
  spec.threads = threads;
  return make_backend(spec, note);
}

py::dict to_dict(const std::string& json) {
  return py::module_::import("json").attr("loads")(json);
}

py::dict epoch_dict(const EpochMetrics& e) {
  return to_dict(to_json(TrainReport{}, {e}))["epochs"].cast<py::list>()[0];
}

// Python callbacks wrapped for the training thread (which runs without the GIL). A Python error
// raised in a callback, or by a signal handler (Ctrl-C) during the cancel poll, stops training
// and is raised again once the GIL is back.
class PyCallbacks {
 public:
  PyCallbacks(py::object on_epoch, py::object on_note)
      : on_epoch_(std::move(on_epoch)), on_note_(std::move(on_note)) {}

  TrainCallbacks make() {
    TrainCallbacks cb;
    cb.cancelled = [this] {
      py::gil_scoped_acquire locked;
      if (PyErr_CheckSignals() != 0) pending_ = py::error_already_set();
      return static_cast<bool>(pending_);
    };
    if (!on_epoch_.is_none())
      cb.on_epoch = [this](const EpochMetrics& e) {
        call(on_epoch_, [&] { return py::make_tuple(epoch_dict(e), format_epoch(e)); });
      };
    if (!on_note_.is_none())
      cb.on_note = [this](const std::string& note) {
        call(on_note_, [&] { return py::make_tuple(note); });
      };
    return cb;
  }
  // Runs `work` without the GIL; re-raises what a callback or a signal handler raised.
  template <class Work>
  auto run(Work&& work) {
    try {
      py::gil_scoped_release unlocked;
      return work(make());
    } catch (const Cancelled& e) {
      if (pending_) {
        // What the interruption kept (the checkpoint's epoch), before the KeyboardInterrupt.
        if (!on_note_.is_none()) {
          try {
            on_note_(std::string(e.what()));
          } catch (py::error_already_set&) {
          }
        }
        throw *pending_;
      }
      throw;
    }
  }

 private:
  template <class Arg>
  void call(const py::object& f, Arg&& arg) {
    py::gil_scoped_acquire locked;
    if (pending_) throw Cancelled("training cancelled");
    try {
      f(*arg());
    } catch (py::error_already_set& e) {
      pending_ = std::move(e);
      throw Cancelled("training cancelled");
    }
  }
  py::object on_epoch_, on_note_;
  std::optional<py::error_already_set> pending_;
};

ModelConfig model_config_of(const py::dict& d) {
  ModelConfig c;
  c.rank = d["rank"].cast<int>();
  c.transform = parse_transform(d["transform"].cast<std::string>());
  c.pool = d["pool"].cast<bool>();
  c.tau = d["tau"].cast<float>();
  c.prec_a0 = d["prec_a0"].cast<float>();
  c.prec_b0 = d["prec_b0"].cast<float>();
  c.init_sd = d["init_sd"].cast<float>();
  validate(c);
  return c;
}

TrainConfig train_config_of(const py::dict& d) {
  TrainConfig c;
  c.epochs = d["epochs"].cast<int>();
  c.valid_frac = d["valid_frac"].cast<double>();
  c.refit = d["refit"].cast<bool>();
  c.patience = d["patience"].cast<int>();
  c.min_improvement = d["min_improvement"].cast<double>();
  c.seed = d["seed"].cast<uint64_t>();
  c.checkpoint = d["checkpoint"].cast<std::string>();
  c.checkpoint_every = d["checkpoint_every"].cast<int>();
  c.watch.enabled = d["watch"].cast<bool>();
  c.watch.rank = d["watch_rank"].is_none() ? -1 : d["watch_rank"].cast<int>();
  c.watch.alpha = d["watch_alpha"].cast<float>();
  c.watch.zero_weight = d["watch_zero_weight"].cast<float>();
  c.watch.epochs = d["watch_epochs"].cast<int>();
  validate(c);
  return c;
}

py::dict config_dict(const ModelConfig& c) {
  py::dict d;
  d["rank"] = c.rank;
  d["transform"] = to_string(c.transform);
  d["pool"] = c.pool;
  d["tau"] = c.tau;
  d["prec_a0"] = c.prec_a0;
  d["prec_b0"] = c.prec_b0;
  d["noise_a"] = c.noise_a;
  d["noise_b"] = c.noise_b;
  d["init_sd"] = c.init_sd;
  return d;
}

py::dict defaults() {
  const ModelConfig m;
  const TrainConfig t;
  const RecommendOptions r;
  const EvalOptions e;
  const GivenNConfig g;
  py::dict d = config_dict(m);  // the model's settings, then training and serving ones
  d["epochs"] = t.epochs;
  d["valid_frac"] = t.valid_frac;
  d["refit"] = t.refit;
  d["patience"] = t.patience;
  d["min_improvement"] = t.min_improvement;
  d["seed"] = t.seed;
  d["watch"] = t.watch.enabled;
  d["watch_alpha"] = t.watch.alpha;
  d["watch_zero_weight"] = t.watch.zero_weight;
  d["watch_epochs"] = t.watch.epochs;
  d["k"] = r.k;
  d["ucb_beta"] = r.ucb_beta;
  d["eval_k"] = e.k;
  d["n"] = py::tuple(py::cast(g.ns));
  d["holdout_users"] = g.holdout_users;
  return d;
}

// A model on a device, ready to predict, recommend and evaluate.
class Scorer {
 public:
  Scorer(std::shared_ptr<Model> model, const std::string& device, int threads)
      : model_(std::move(model)), backend_(open_backend(device, threads, &note_)) {
    py::gil_scoped_release unlocked;
    backend_->load_model(*model_);
    if (model_->watch.present) {  // the watch part, for the watch and expected objectives
      std::string ignored;
      watch_ = open_backend(device, threads, &ignored);
      watch_->load_model(watch_view(*model_));
    }
  }
  std::string device() const { return backend_->name(); }
  const std::string& note() const { return note_; }

  // Model-scale predictive mean and variance, and the source of each prediction.
  py::tuple predict(const Ratings& pairs, const std::optional<GroupFile>& user_groups,
                    const std::optional<GroupFile>& item_groups, bool plain_prior) {
    Predictions p;
    {
      py::gil_scoped_release unlocked;
      p = predict_table(*backend_, *model_, pairs, ptr(user_groups), ptr(item_groups), plain_prior);
    }
    std::vector<uint8_t> source(p.source.size());
    for (size_t k = 0; k < source.size(); ++k) source[k] = static_cast<uint8_t>(p.source[k]);
    return py::make_tuple(to_numpy(p.mean), to_numpy(p.var), to_numpy(source));
  }

  py::dict recommend_for(const std::vector<std::string>& users, int k, const std::string& explore,
                         double ucb_beta, uint64_t seed, bool include_seen,
                         const std::optional<std::vector<std::string>>& candidates,
                         const std::optional<GroupFile>& user_groups, bool plain_prior,
                         const std::string& objective) {
    RecommendOptions o;
    o.objective = parse_objective(objective);
    o.watch = watch_.get();
    o.k = k;
    o.explore = parse_explore(explore);
    o.ucb_beta = ucb_beta;
    o.seed = seed;
    o.include_seen = include_seen;
    if (candidates) o.candidates = find_items(*model_, *candidates);
    o.user_groups = ptr(user_groups);
    o.plain_prior = plain_prior;
    std::vector<std::vector<Recommendation>> lists;
    {
      py::gil_scoped_release unlocked;
      lists = recommend(*backend_, *model_, users, o);
    }
    std::vector<int32_t> row, rank, item;
    std::vector<float> score, mean, var, watch, watch_var;
    for (size_t u = 0; u < lists.size(); ++u)
      for (size_t r = 0; r < lists[u].size(); ++r) {
        row.push_back(static_cast<int32_t>(u));
        rank.push_back(static_cast<int32_t>(r) + 1);
        item.push_back(lists[u][r].item);
        score.push_back(lists[u][r].score);
        mean.push_back(lists[u][r].mean);
        var.push_back(lists[u][r].var);
        watch.push_back(lists[u][r].watch);
        watch_var.push_back(lists[u][r].watch_var);
      }
    py::dict out;
    out["user_row"] = to_numpy(row);
    out["rank"] = to_numpy(rank);
    out["item_index"] = to_numpy(item);
    out["score"] = to_numpy(score);
    out["mean"] = to_numpy(mean);
    out["var"] = to_numpy(var);
    out["watch"] = to_numpy(watch);
    out["watch_var"] = to_numpy(watch_var);
    return out;
  }

  py::dict evaluate_on(const Ratings& table, int k, const std::optional<double>& relevant,
                       bool relevant_all, const std::optional<GroupFile>& user_groups,
                       const std::optional<GroupFile>& item_groups, bool plain_prior,
                       const std::string& objective) {
    EvalOptions o;
    o.objective = parse_objective(objective);
    o.watch = watch_.get();
    o.relevant_all = relevant_all;
    o.user_groups = ptr(user_groups);
    o.item_groups = ptr(item_groups);
    o.plain_prior = plain_prior;
    o.k = k;
    o.has_relevant = relevant.has_value();
    o.relevant = relevant.value_or(0.0);
    std::string json;
    {
      py::gil_scoped_release unlocked;
      json = to_json(evaluate(*backend_, *model_, table, o));
    }
    return to_dict(json);
  }

 private:
  std::shared_ptr<Model> model_;
  std::string note_;
  std::unique_ptr<Backend> backend_, watch_;
};

py::tuple train_model(const Ratings& train_table, const Ratings* test,
                      const std::optional<GroupFile>& user_groups,
                      const std::optional<GroupFile>& item_groups,
                      const std::shared_ptr<Model>& warm_start, const py::dict& model_config,
                      const py::dict& train_config, const std::string& resume_from,
                      const std::string& device, int threads, py::object on_epoch,
                      py::object on_note) {
  const ModelConfig mc = model_config_of(model_config);
  const TrainConfig tc = train_config_of(train_config);
  std::string note;
  auto backend = open_backend(device, threads, &note);
  if (!note.empty() && !on_note.is_none()) on_note(note);  // "auto" passed over an unusable GPU
  TrainInputs in;
  in.train = &train_table;
  in.test = test;
  in.user_groups = ptr(user_groups);
  in.item_groups = ptr(item_groups);
  in.warm_start = warm_start.get();
  in.resume_from = resume_from;
  PyCallbacks callbacks(std::move(on_epoch), std::move(on_note));
  TrainResult r = callbacks.run(
      [&](const TrainCallbacks& cb) { return train(in, mc, tc, *backend, cb); });
  const std::string report = to_json(r.report, r.model.history);
  return py::make_tuple(std::make_shared<Model>(std::move(r.model)), to_dict(report));
}

py::dict given_n_protocol(const Ratings& all, const std::vector<int>& ns, double holdout_users,
                          int k, const std::optional<double>& relevant, bool relevant_all,
                          const std::string& objective,
                          const std::optional<GroupFile>& user_groups,
                          const std::optional<GroupFile>& item_groups,
                          const py::dict& model_config, const py::dict& train_config,
                          const std::string& device, int threads, py::object on_epoch,
                          py::object on_note) {
  GivenNConfig c;
  c.ns = ns;
  c.holdout_users = holdout_users;
  c.k = k;
  c.has_relevant = relevant.has_value();
  c.relevant = relevant.value_or(0.0);
  c.relevant_all = relevant_all;
  c.objective = parse_objective(objective);
  const ModelConfig mc = model_config_of(model_config);
  const TrainConfig tc = train_config_of(train_config);
  c.seed = tc.seed;
  validate(c, tc);
  open_backend(device, threads);  // a bad device fails before the split and the training
  PyCallbacks callbacks(std::move(on_epoch), std::move(on_note));
  const GivenNResult r = callbacks.run([&](const TrainCallbacks& cb) {
    const GivenNSplit split = given_n_split(all, c);
    return run_given_n(split, c, mc, tc, ptr(user_groups), ptr(item_groups),
                       [&] { return open_backend(device, threads); }, cb);
  });
  return to_dict(to_json(r));
}

py::tuple fold_in(const Model& model, const Ratings& table,
                  const std::optional<GroupFile>& user_groups, bool plain_prior, int threads) {
  auto out = std::make_shared<Model>(model);
  FoldInOptions o;
  o.plain_prior = plain_prior;
  o.threads = threads;
  FoldInReport r;
  {
    py::gil_scoped_release unlocked;
    r = fold_in_table(*out, table, ptr(user_groups), o);
  }
  py::dict report;
  report["added"] = r.added;
  report["updated"] = r.updated;
  report["entries_used"] = r.entries_used;
  report["entries_unknown_item"] = r.entries_unknown_item;
  return py::make_tuple(out, report);
}

// One side's posterior: ids, groups, counts, factor means and sds (n x rank), bias mean and sd.
py::dict side_posterior(const Model& m, bool users) {
  const GuideBlock& g = users ? m.U : m.V;
  const Groups& groups = users ? m.user_groups : m.item_groups;
  const int d = g.rank;
  py::array_t<float> mean({static_cast<py::ssize_t>(g.n), static_cast<py::ssize_t>(d)});
  py::array_t<float> sd({static_cast<py::ssize_t>(g.n), static_cast<py::ssize_t>(d)});
  py::array_t<float> bias(g.n), bias_sd(g.n);
  auto M = mean.mutable_unchecked<2>();
  auto S = sd.mutable_unchecked<2>();
  for (int i = 0; i < g.n; ++i) {
    for (int k = 0; k < d; ++k) {
      M(i, k) = g.mean_row(i)[k];
      S(i, k) = std::exp(g.logsd_row(i)[k]);
    }
    bias.mutable_data()[i] = g.bias_mean[i];
    bias_sd.mutable_data()[i] = std::exp(g.bias_logsd[i]);
  }
  py::dict out;
  out["ids"] = names_of(users ? m.users : m.items);
  out["group_names"] = groups.names;
  out["group_of"] = to_numpy(groups.of);
  out["count"] = to_numpy(users ? m.user_count : m.item_count);
  out["mean"] = mean;
  out["sd"] = sd;
  out["bias"] = bias;
  out["bias_sd"] = bias_sd;
  return out;
}

// One side's pooled priors over [factors; bias]: group means (G x dim) and covariances
// (G x dim x dim), and the population mean.
py::dict side_prior(const Model& m, bool users) {
  const PriorBlock& p = users ? m.user_prior : m.item_prior;
  const py::ssize_t G = p.n_groups, dim = p.dim();
  py::array_t<float> mean({G, dim}), cov({G, dim, dim});
  std::copy(p.mean.begin(), p.mean.end(), mean.mutable_data());
  std::copy(p.cov.begin(), p.cov.end(), cov.mutable_data());
  py::dict out;
  out["groups"] = (users ? m.user_groups : m.item_groups).names;
  out["mean"] = mean;
  out["cov"] = cov;
  out["population_mean"] = to_numpy(p.pop_mean);
  return out;
}


py::list history_of(const Model& m) {
  return to_dict(to_json(TrainReport{}, m.history))["epochs"];
}

py::tuple original_scale(const std::string& transform, const Array<float>& mean,
                         const Array<float>& var) {
  const Transform t = parse_transform(transform);
  const size_t n = static_cast<size_t>(mean.size());
  py::array_t<double> m(static_cast<py::ssize_t>(n)), s(static_cast<py::ssize_t>(n));
  for (size_t k = 0; k < n; ++k)
    to_original_scale(t, mean.data()[k], var.data()[k], m.mutable_data()[k], s.mutable_data()[k]);
  return py::make_tuple(m, s);
}

py::dict synth_data(int users, int items, int rank, int channels, int genres, double noise_sd,
                    uint64_t seed) {
  SynthConfig c;
  c.users = users;
  c.items = items;
  c.rank = rank;
  c.channels = channels;
  c.genres = genres;
  c.noise_sd = noise_sd;
  c.seed = seed;
  SynthData d;
  {
    py::gil_scoped_release unlocked;
    d = generate_synth(c);
  }
  py::dict out;
  out["ratings"] = std::make_shared<Ratings>(std::move(d.ratings));
  out["true_mean"] = to_numpy(d.true_mean);
  out["user_groups"] = d.user_groups;
  out["item_groups"] = d.item_groups;
  return out;
}

}  // namespace
}  // namespace ppmf

PYBIND11_MODULE(_ppmf, m) {
  using namespace ppmf;
  m.doc() = "libppmf binding; use the ppmf package, not this module";
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  // Most derived first; the message is the library's one line.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ConfigError& e) {
      // ConfigError(message) with .field: the keyword the message is about.
      py::object instance = py::handle(config_error.ptr())(e.what());
      instance.attr("field") = e.field();
      PyErr_SetObject(config_error.ptr(), instance.ptr());
    } catch (const Error& e) {
      error(e.what());
    }
  });

  py::class_<Ratings, std::shared_ptr<Ratings>>(m, "Table")
      .def_property_readonly("size", &Ratings::size)
      .def_property_readonly("user_codes", [](const Ratings& r) { return to_numpy(r.user); })
      .def_property_readonly("item_codes", [](const Ratings& r) { return to_numpy(r.item); })
      .def_property_readonly("user_names", [](const Ratings& r) { return names_of(r.users); })
      .def_property_readonly("item_names", [](const Ratings& r) { return names_of(r.items); })
      .def_property_readonly("values", [](const Ratings& r) { return to_numpy(r.value); })
      .def_property_readonly("times", [](const Ratings& r) -> py::object {
        if (r.time.empty()) return py::none();
        return to_numpy(r.time);
      });
  m.def("make_table", &make_table);
  m.def("read_table", &read_table);
  m.def("read_groups", [](const std::string& path) { return read_group_file(path); });
  m.def("write_table", [](const Ratings& r, const std::string& path) { write_ratings_csv(r, path); });
  m.def("write_text", [](const std::string& path, const std::string& text) {
    write_atomically(path, text);
  });
  // [(role, path)] lists; see files.hpp.
  m.def("check_paths", [](const std::vector<std::pair<std::string, std::string>>& inputs,
                          const std::vector<std::pair<std::string, std::string>>& outputs,
                          const std::vector<std::pair<std::string, std::string>>& may_replace) {
    const auto roles = [](const std::vector<std::pair<std::string, std::string>>& v) {
      std::vector<PathRole> out;
      for (const auto& [role, path] : v) out.push_back({role, path});
      return out;
    };
    check_distinct_paths(roles(inputs), roles(outputs), may_replace);
  });
  m.def("split_random", [](const Ratings& r, double frac, uint64_t seed) {
    Split s = split_random(r, frac, seed);
    return py::make_tuple(std::make_shared<Ratings>(std::move(s.train)),
                          std::make_shared<Ratings>(std::move(s.test)));
  });

  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def_property_readonly("config", [](const Model& x) { return config_dict(x.config); })
      .def_property_readonly("mu0", [](const Model& x) { return x.mu0; })
      .def_property_readonly("sigma2", [](const Model& x) { return x.sigma2; })
      .def_property_readonly("n_train", [](const Model& x) { return x.n_train; })
      .def_property_readonly("has_watch", [](const Model& x) { return x.watch.present; })
      .def_property_readonly("best_epoch", [](const Model& x) { return x.best_epoch; })
      .def_property_readonly("history", &history_of)
      .def("posterior", &side_posterior)
      .def("prior", &side_prior)
      .def("item_names", [](const Model& x, const Array<int32_t>& idx) {
        py::list out(static_cast<size_t>(idx.size()));
        for (py::ssize_t k = 0; k < idx.size(); ++k) {
          const std::string_view n = x.items.name(idx.data()[k]);
          out[static_cast<size_t>(k)] = py::str(n.data(), n.size());
        }
        return out;
      })
      .def("save", [](const Model& x, const std::string& path) { save_model(x, path); });
  m.def("load_model", [](const std::string& path) { return std::make_shared<Model>(load_model(path)); });

  py::class_<Scorer>(m, "Scorer")
      .def(py::init<std::shared_ptr<Model>, const std::string&, int>())
      .def_property_readonly("device", &Scorer::device)
      .def_property_readonly("note", &Scorer::note)
      .def("predict", &Scorer::predict)
      .def("recommend", &Scorer::recommend_for)
      .def("evaluate", &Scorer::evaluate_on);

  m.def("train", &train_model, py::arg("train"), py::arg("test").none(true),
        py::arg("user_groups").none(true), py::arg("item_groups").none(true),
        py::arg("warm_start").none(true), py::arg("model_config"), py::arg("train_config"),
        py::arg("resume_from"), py::arg("device"), py::arg("threads"), py::arg("on_epoch").none(true),
        py::arg("on_note").none(true));
  m.def("given_n", &given_n_protocol);
  m.def("fold_in", &fold_in);
  m.def("defaults", &defaults);
  m.def("to_original_scale", &original_scale);
  m.def("synth", &synth_data);
  m.def("list_gpus", [] {
    std::string why;
    py::list out;
    for (const GpuInfo& g : list_gpus(&why)) {
      py::dict d;
      d["index"] = g.index;
      d["name"] = g.name;
      d["total_bytes"] = g.total_bytes;
      d["free_bytes"] = g.free_bytes;
      d["multiprocessors"] = g.multiprocessors;
      d["compute_capability"] = std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor);
      out.append(d);
    }
    return py::make_tuple(out, why);
  });
}

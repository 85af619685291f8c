// The training loop (one for all backends). See scheduler.hpp.
#include "ppmf/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "ppmf/entry_math.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/hyper.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/split.hpp"

namespace ppmf {

Model init_model(const Ratings& train, const std::vector<float>& values, const ModelConfig& config,
                 const GroupFile* user_groups, const GroupFile* item_groups, uint64_t seed) {
  validate(config);
  if (train.size() == 0) throw Error("no training entries");
  Model m;
  m.config = config;
  m.users = train.users;
  m.items = train.items;
  m.user_groups = make_groups(m.users, user_groups);
  m.item_groups = make_groups(m.items, item_groups);
  m.user_count = count_per_user(train);
  m.item_count = count_per_item(train);
  m.n_train = train.size();
  set_seen(m, items_per_user(train));
  double sum = 0, sq = 0;
  for (float v : values) sum += v;
  m.mu0 = static_cast<float>(sum / values.size());
  for (float v : values) sq += (v - m.mu0) * static_cast<double>(v - m.mu0);
  m.sigma2 = static_cast<float>(std::max(sq / values.size(), 1e-6));
  const int d = config.rank;
  Rng rng(seed ^ 0x5eedULL);
  const float w0 = std::log(config.init_sd);
  for (GuideBlock* g : {&m.U, &m.V}) {
    g->resize(static_cast<int>(g == &m.U ? m.users.size() : m.items.size()), d);
    for (int i = 0; i < g->n; ++i) {
      for (int k = 0; k < d; ++k) {
        const size_t at = static_cast<size_t>(i) * g->stride + k;
        g->mean[at] = static_cast<float>(config.init_sd * rng.normal());
        g->logsd[at] = w0;
      }
      g->bias_logsd[i] = w0;
    }
  }
  m.user_prior.reset(static_cast<int>(m.user_groups.names.size()), d);
  m.item_prior.reset(static_cast<int>(m.item_groups.names.size()), d);
  return m;
}

namespace {

// Copies one side's priors by group name; groups new to `old` take its population prior.
void carry_priors(const PriorBlock& old, const Groups& old_groups, float tau, PriorBlock& fresh,
                  const Groups& fresh_groups) {
  std::vector<double> pop_mean, pop_cov;
  old.population(tau, pop_mean, pop_cov);
  const size_t m = static_cast<size_t>(fresh.dim());
  for (int g = 0; g < fresh.n_groups; ++g) {
    const int o = old_groups.find(fresh_groups.names[g]);
    for (size_t k = 0; k < m; ++k)
      fresh.mean[g * m + k] = o >= 0 ? old.mean_of(o)[k] : static_cast<float>(pop_mean[k]);
    for (size_t k = 0; k < m * m; ++k)
      fresh.cov[g * m * m + k] = o >= 0 ? old.cov_of(o)[k] : static_cast<float>(pop_cov[k]);
  }
  fresh.pop_mean = old.pop_mean;
}

// Known ids take their old posterior; new ones their (already carried) group prior's mean and
// marginal variances.
void carry_guide(const GuideBlock& old, const IdMap& old_ids, GuideBlock& fresh,
                 const IdMap& fresh_ids, const PriorBlock& prior, const Groups& groups) {
  const int d = fresh.rank, m = prior.dim();
  for (int i = 0; i < fresh.n; ++i) {
    const int32_t o = old_ids.find(fresh_ids.name(i));
    const size_t at = static_cast<size_t>(i) * fresh.stride;
    const int g = groups.of[i];
    const float* M = prior.mean_of(g);
    const float* C = prior.cov_of(g);
    for (int k = 0; k < d; ++k) {
      fresh.mean[at + k] = o >= 0 ? old.mean[static_cast<size_t>(o) * old.stride + k] : M[k];
      fresh.logsd[at + k] = o >= 0 ? old.logsd[static_cast<size_t>(o) * old.stride + k]
                                   : 0.5f * std::log(C[k * m + k]);
    }
    fresh.bias_mean[i] = o >= 0 ? old.bias_mean[o] : M[d];
    fresh.bias_logsd[i] = o >= 0 ? old.bias_logsd[o] : 0.5f * std::log(C[d * m + d]);
  }
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<float> model_scale(const Ratings& r, Transform t) {
  std::vector<float> v(r.size());
  for (size_t k = 0; k < r.size(); ++k) v[k] = to_model_scale(r.value[k], t);
  return v;
}

// Held-out entries resolved once against the model (unknown ids point at prior rows).
struct HeldOut {
  ResolvedPairs pairs;
  std::vector<float> values, mean, var;

  HeldOut(const Model& model, const Ratings* table, const GroupFile* ug, const GroupFile* ig) {
    if (table == nullptr || table->size() == 0) return;
    pairs = resolve_pairs(model, *table, ug, ig);
    values = model_scale(*table, model.config.transform);
    mean.resize(values.size());
    var.resize(values.size());
  }
  bool empty() const { return values.empty(); }
  // RMSE and mean NLL on the model scale.
  std::pair<double, double> score(Backend& backend) {
    backend.predict(pairs.index.data(), values.size(), mean.data(), var.data());
    double sse = 0, nll = 0;
    for (size_t k = 0; k < values.size(); ++k) {
      const double err = values[k] - mean[k];
      sse += err * err;
      nll += math::gaussian_nll(values[k], mean[k], var[k]);
    }
    return {std::sqrt(sse / values.size()), nll / values.size()};
  }
};

// Rows per solve_rows call: small enough for a live progress bar on big sides, large enough that
// the calls cost nothing.
constexpr int kRowsPerCall = 1 << 16;

}  // namespace

std::string format_epoch(const EpochMetrics& e) {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf, "epoch %3d  elbo/entry %9.4f  train_rmse %.4f", e.epoch,
                        e.elbo_per_entry, e.train_rmse);
  if (e.has_valid)
    n += std::snprintf(buf + n, sizeof buf - n, "  valid_rmse %.4f  valid_nll %.4f", e.valid_rmse,
                       e.valid_nll);
  if (e.has_test)
    n += std::snprintf(buf + n, sizeof buf - n, "  test_rmse %.4f  test_nll %.4f", e.test_rmse,
                       e.test_nll);
  std::snprintf(buf + n, sizeof buf - n, "  sigma %.4f  %6.2fM entries/s  %.2fs", e.sigma,
                e.entries_per_s / 1e6, e.seconds);
  return buf;
}

void warm_start_from(const Model& old, Model& fresh) {
  if (old.rank() != fresh.rank())
    throw Error("warm start: the old model has rank " + std::to_string(old.rank()) +
                ", this run asks for " + std::to_string(fresh.rank()));
  if (old.config.transform != fresh.config.transform)
    throw Error(std::string("warm start: the old model used transform ") +
                to_string(old.config.transform));
  fresh.mu0 = old.mu0;  // keeps the old biases meaningful
  fresh.sigma2 = old.sigma2;
  carry_priors(old.user_prior, old.user_groups, old.config.tau, fresh.user_prior,
               fresh.user_groups);
  carry_priors(old.item_prior, old.item_groups, old.config.tau, fresh.item_prior,
               fresh.item_groups);
  carry_guide(old.U, old.users, fresh.U, fresh.users, fresh.user_prior, fresh.user_groups);
  carry_guide(old.V, old.items, fresh.V, fresh.items, fresh.item_prior, fresh.item_groups);
}

EpochMetrics run_epoch(Backend& backend, Model& model, const TrainConfig& tc,
                       const SweepProgress& progress) {
  const auto t0 = Clock::now();
  const size_t total_rows = static_cast<size_t>(model.U.n) + model.V.n;
  size_t done = 0;
  for (const Side side : {Side::kUsers, Side::kItems}) {
    const int n = side == Side::kUsers ? model.U.n : model.V.n;
    for (int begin = 0; begin < n; begin += kRowsPerCall) {
      backend.solve_rows(side, begin, std::min(n, begin + kRowsPerCall));
      done += static_cast<size_t>(std::min(n, begin + kRowsPerCall) - begin);
      if (progress) progress(done, total_rows);
    }
    // Pooling sees each side right after its sweep, so the item sweep uses the new user priors'
    // consequences and the next user sweep the new item priors.
    if (model.config.pool) {
      PriorBlock& prior = side == Side::kUsers ? model.user_prior : model.item_prior;
      update_prior(backend.group_moments(side), model.config, tc.pool_iters, prior);
      backend.set_priors(model);
    }
  }
  backend.synchronize();
  const double solve_seconds = seconds_since(t0);

  // Full pass: the ELBO at the new guide and priors, then the noise update.
  const TrainPassStats st = backend.train_pass();
  const double n = static_cast<double>(st.n);
  EpochMetrics em;
  em.elbo_per_entry = (-0.5 * n * (math::kLog2Pi + std::log(model.sigma2)) -
                       0.5 * st.sse_expected / model.sigma2 - st.kl_users - st.kl_items) /
                      n;
  em.train_rmse = std::sqrt(st.sse_mean / n);
  model.sigma2 = static_cast<float>(update_noise(st.sse_expected, st.n, model.config));
  backend.set_priors(model);
  em.sigma = std::sqrt(model.sigma2);
  em.entries_per_s = n / std::max(solve_seconds, 1e-9);
  em.seconds = seconds_since(t0);
  if (!std::isfinite(em.elbo_per_entry))
    throw Error("training diverged (non-finite ELBO)");
  return em;
}

namespace {

// Epochs on a loaded backend, with held-out scoring and (when `valid` is not empty) early stopping
// with restore of the best epoch. Appends to model.history; returns the model to keep (its guide
// copied out of the backend).
Model run_epochs(Backend& backend, Model model, const TrainConfig& tc, int epochs, HeldOut& valid,
                 HeldOut& test, const TrainCallbacks& cb, TrainReport& report) {
  Model best;
  double best_nll = INFINITY;
  int best_epoch = 0;
  std::vector<double> nll;  // validation NLL per epoch of this run
  const int first = static_cast<int>(model.history.size());
  for (int e = 1; e <= epochs; ++e) {
    const int epoch = first + e;
    EpochMetrics em = run_epoch(backend, model, tc, [&](size_t done, size_t total) {
      if (cb.on_progress) cb.on_progress(epoch, done, total);
      if (cb.cancelled && cb.cancelled()) throw Cancelled("training cancelled");
    });
    em.epoch = epoch;
    if (!valid.empty()) {
      em.has_valid = true;
      std::tie(em.valid_rmse, em.valid_nll) = valid.score(backend);
    }
    if (!test.empty()) {
      em.has_test = true;
      std::tie(em.test_rmse, em.test_nll) = test.score(backend);
    }
    model.history.push_back(em);
    if (cb.on_epoch) cb.on_epoch(em);
    if (!em.has_valid) continue;
    nll.push_back(em.valid_nll);
    if (em.valid_nll < best_nll) {
      best_nll = em.valid_nll;
      best_epoch = epoch;
      backend.store_guide(model);
      best = model;
    }
    // Stop once the last `patience` epochs have improved on the best before them by less than
    // min_improvement.
    const size_t p = static_cast<size_t>(tc.patience);
    if (p > 0 && nll.size() > p) {
      const double before = *std::min_element(nll.begin(), nll.end() - static_cast<long>(p));
      const double recent = *std::min_element(nll.end() - static_cast<long>(p), nll.end());
      if (recent > before - tc.min_improvement) {
        report.stopped_early = true;
        if (cb.on_note) {
          char line[160];
          std::snprintf(line, sizeof line,
                        "early stop: validation NLL improved by less than %g over %d epochs; "
                        "keeping epoch %d",
                        tc.min_improvement, tc.patience, best_epoch);
          cb.on_note(line);
        }
        break;
      }
    }
  }
  model.best_epoch = static_cast<int>(model.history.size());
  if (best_epoch == 0) {
    backend.store_guide(model);
    return model;
  }
  best.history = std::move(model.history);
  best.best_epoch = best_epoch;
  return best;
}

// A model of `table` ready to train: compacted ids, groups, the initial guide (or the warm start).
Model fresh_model(const Ratings& table, const ModelConfig& config, const TrainInputs& in,
                  const TrainConfig& tc, Ratings& compacted, std::vector<float>& values) {
  compacted = compact(table);
  values = model_scale(compacted, config.transform);
  Model model = init_model(compacted, values, config, in.user_groups, in.item_groups, tc.seed);
  if (in.warm_start) warm_start_from(*in.warm_start, model);
  return model;
}

}  // namespace

TrainResult train(const TrainInputs& in, const ModelConfig& config, const TrainConfig& tc,
                  Backend& backend, const TrainCallbacks& cb) {
  const auto t0 = Clock::now();
  validate(config);
  validate(tc);
  if (in.train == nullptr || in.train->size() == 0) throw Error("no training entries");
  TrainReport report;
  report.device = backend.name();
  report.test_entries = in.test ? in.test->size() : 0;
  // The validation entries are carved before the ids are compacted, so an id seen only there is
  // new to the model, as it would be in service.
  const bool validate_epochs = tc.valid_frac > 0;
  const Split parts = validate_epochs ? split_by_hash(*in.train, tc.valid_frac, tc.seed) : Split{};
  if (validate_epochs && parts.train.size() == 0)
    throw Error("the validation split left no training entries (lower valid_frac)");
  Ratings train;
  std::vector<float> values;
  Model model =
      fresh_model(validate_epochs ? parts.train : *in.train, config, in, tc, train, values);
  report.train_entries = train.size();
  report.valid_entries = parts.test.size();
  backend.load_model(model);
  backend.load_training(train.user, train.item, values);
  HeldOut valid(model, validate_epochs ? &parts.test : nullptr, in.user_groups, in.item_groups);
  HeldOut test(model, in.test, in.user_groups, in.item_groups);
  model = run_epochs(backend, std::move(model), tc, tc.epochs, valid, test, cb, report);
  if (!valid.empty()) {
    report.chosen_epoch = model.best_epoch;
    report.chosen = model.history[model.best_epoch - 1];
  }

  if (!valid.empty() && tc.refit) {
    // The chosen number of epochs, again from the start, on every entry.
    const int epochs = model.best_epoch;
    if (cb.on_note)
      cb.on_note("refit: " + std::to_string(epochs) + " epochs on all " +
                 std::to_string(in.train->size()) + " entries (validation included)");
    Model all = fresh_model(*in.train, config, in, tc, train, values);
    all.history = std::move(model.history);
    backend.load_model(all);
    backend.load_training(train.user, train.item, values);
    HeldOut none(all, nullptr, nullptr, nullptr);
    HeldOut test_all(all, in.test, in.user_groups, in.item_groups);
    model = run_epochs(backend, std::move(all), tc, epochs, none, test_all, cb, report);
    report.refit = true;
    report.train_entries = train.size();
  }
  compute_new_user_prior(model);
  report.epochs_run = static_cast<int>(model.history.size());
  report.kept = model.history[model.best_epoch - 1];
  report.seconds = seconds_since(t0);
  return {std::move(model), std::move(report)};
}

}  // namespace ppmf

// The training loop (one for all backends). See scheduler.hpp.
#include "ppmf/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "ppmf/groups.hpp"
#include "ppmf/hyper.hpp"
#include "ppmf/predict.hpp"
#include "progress.hpp"

namespace ppmf {

std::vector<size_t> batch_boundaries(size_t n, size_t batch_size) {
  const size_t batches = batch_size == 0 ? 1 : (n + batch_size - 1) / batch_size;
  // Near-equal sizes: a small tail batch would carry a huge N/|B| scale and add noise.
  std::vector<size_t> bounds(batches + 1, 0);
  const size_t base = n / batches, extra = n % batches;
  for (size_t b = 0; b < batches; ++b) bounds[b + 1] = bounds[b] + base + (b < extra ? 1 : 0);
  return bounds;
}

Model init_model(const Ratings& train, const std::vector<float>& values, const ModelConfig& config,
                 const GroupFile* user_groups, const GroupFile* item_groups, uint64_t seed) {
  if (config.rank < 0 || config.rank > 1024)
    throw Error("--rank must be between 0 (biases only) and 1024");
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
  std::vector<float> pop_mean, pop_var;
  float pop_bias_mean, pop_bias_var;
  old.population(tau, pop_mean, pop_var, pop_bias_mean, pop_bias_var);
  const int d = fresh.rank;
  for (int g = 0; g < fresh.n_groups; ++g) {
    const int o = old_groups.find(fresh_groups.names[g]);
    for (int k = 0; k < d; ++k) {
      fresh.mean[static_cast<size_t>(g) * d + k] =
          o >= 0 ? old.mean[static_cast<size_t>(o) * d + k] : pop_mean[k];
      fresh.prec[static_cast<size_t>(g) * d + k] =
          o >= 0 ? old.prec[static_cast<size_t>(o) * d + k] : 1.0f / pop_var[k];
    }
    fresh.bias_mean[g] = o >= 0 ? old.bias_mean[o] : pop_bias_mean;
    fresh.bias_prec[g] = o >= 0 ? old.bias_prec[o] : 1.0f / pop_bias_var;
  }
  fresh.pop_mean = old.pop_mean;
  fresh.pop_bias_mean = old.pop_bias_mean;
}

// Known ids take their old posterior; new ones their (already carried) group prior.
void carry_guide(const GuideBlock& old, const IdMap& old_ids, GuideBlock& fresh,
                 const IdMap& fresh_ids, const PriorBlock& prior, const Groups& groups) {
  const int d = fresh.rank;
  for (int i = 0; i < fresh.n; ++i) {
    const int32_t o = old_ids.find(fresh_ids.name(i));
    const size_t at = static_cast<size_t>(i) * fresh.stride;
    const size_t g = static_cast<size_t>(groups.of[i]);
    for (int k = 0; k < d; ++k) {
      fresh.mean[at + k] =
          o >= 0 ? old.mean[static_cast<size_t>(o) * old.stride + k] : prior.mean[g * d + k];
      fresh.logsd[at + k] = o >= 0 ? old.logsd[static_cast<size_t>(o) * old.stride + k]
                                   : -0.5f * std::log(prior.prec[g * d + k]);
    }
    fresh.bias_mean[i] = o >= 0 ? old.bias_mean[o] : prior.bias_mean[g];
    fresh.bias_logsd[i] = o >= 0 ? old.bias_logsd[o] : -0.5f * std::log(prior.bias_prec[g]);
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

void log_epoch(const EpochMetrics& e) {
  if (e.has_test) {
    std::fprintf(stderr,
                 "epoch %3d  elbo/entry %9.4f  train_rmse %.4f  test_rmse %.4f  test_nll %.4f  "
                 "sigma %.4f  %6.2fM entries/s  %.2fs\n",
                 e.epoch, e.elbo_per_entry, e.train_rmse, e.test_rmse, e.test_nll, e.sigma,
                 e.entries_per_s / 1e6, e.seconds);
  } else {
    std::fprintf(
        stderr,
        "epoch %3d  elbo/entry %9.4f  train_rmse %.4f  sigma %.4f  %6.2fM entries/s  %.2fs\n",
        e.epoch, e.elbo_per_entry, e.train_rmse, e.sigma, e.entries_per_s / 1e6, e.seconds);
  }
}

}  // namespace

void warm_start_from(const Model& old, Model& fresh) {
  if (old.rank() != fresh.rank())
    throw Error("--warm-start: the old model has rank " + std::to_string(old.rank()) +
                ", this run asks for " + std::to_string(fresh.rank()));
  if (old.config.transform != fresh.config.transform)
    throw Error(std::string("--warm-start: the old model used --transform ") +
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

Model train(const TrainInputs& in, const ModelConfig& config, const TrainConfig& tc,
            Backend& backend) {
  if (in.train == nullptr) throw Error("no training data");
  if (tc.epochs < 1) throw Error("--epochs must be at least 1");
  if (!(tc.lr > 0)) throw Error("--lr must be positive");
  const Ratings train = compact(*in.train);
  const std::vector<float> values = model_scale(train, config.transform);
  Model model = init_model(train, values, config, in.user_groups, in.item_groups, tc.seed);
  if (in.warm_start) warm_start_from(*in.warm_start, model);
  const int pool_warmup = in.warm_start ? 1 : tc.pool_warmup;  // warm priors need no warm-up

  backend.load_model(model);
  backend.load_training(train.user, train.item, values);

  // Held-out entries are resolved once; unknown ids point at prior rows of the backend.
  ResolvedPairs test;
  std::vector<float> test_values;
  if (in.test != nullptr && in.test->size() > 0) {
    test = resolve_pairs(model, *in.test, in.user_groups, in.item_groups);
    test_values = model_scale(*in.test, config.transform);
  }
  std::vector<float> test_mean(test_values.size()), test_var(test_values.size());

  const size_t n = train.size();
  const std::vector<size_t> bounds = batch_boundaries(n, tc.batch_size);
  const size_t batches = bounds.size() - 1;
  Model best;
  double best_nll = INFINITY;
  int since_best = 0;
  float lr = tc.lr;

  for (int epoch = 1; epoch <= tc.epochs; ++epoch) {
    const auto t0 = Clock::now();
    backend.shuffle(tc.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch));
    StepParams params;
    params.adam = {lr, tc.adam_beta1, tc.adam_beta2, tc.adam_eps, 1.f, 1.f};
    ProgressBar bar(batches, tc.progress && !tc.quiet, "epoch " + std::to_string(epoch));
    for (size_t b = 0; b < batches; ++b) {
      params.scale = static_cast<float>(static_cast<double>(n) / (bounds[b + 1] - bounds[b]));
      backend.step(bounds[b], bounds[b + 1], params);
      bar.update(b + 1);
    }
    bar.finish();
    const double step_seconds = seconds_since(t0);

    // Full pass: ELBO at the current parameters, then the pooling and noise updates.
    const TrainPassStats st = backend.train_pass();
    EpochMetrics em;
    em.epoch = epoch;
    em.elbo_per_entry = (-0.5 * n * (math::kLog2Pi + std::log(model.sigma2)) -
                         0.5 * st.sse_expected / model.sigma2 - st.kl_users - st.kl_items) /
                        static_cast<double>(n);
    em.train_rmse = std::sqrt(st.sse_mean / n);
    if (config.pool && epoch >= pool_warmup) {
      update_prior(backend.group_moments(Side::kUsers), config, tc.pool_iters, model.user_prior);
      update_prior(backend.group_moments(Side::kItems), config, tc.pool_iters, model.item_prior);
    }
    model.sigma2 = static_cast<float>(update_noise(st.sse_expected, n, config));
    backend.set_priors(model);
    em.sigma = std::sqrt(model.sigma2);

    if (!test_values.empty()) {
      backend.predict(test.index.data(), test_values.size(), test_mean.data(), test_var.data());
      double sse = 0, nll = 0;
      for (size_t k = 0; k < test_values.size(); ++k) {
        const double err = test_values[k] - test_mean[k];
        sse += err * err;
        nll += math::gaussian_nll(test_values[k], test_mean[k], test_var[k]);
      }
      em.has_test = true;
      em.test_rmse = std::sqrt(sse / test_values.size());
      em.test_nll = nll / test_values.size();
    }
    em.entries_per_s = n / std::max(step_seconds, 1e-9);
    em.seconds = seconds_since(t0);
    model.history.push_back(em);
    if (!tc.quiet) log_epoch(em);
    if (!std::isfinite(em.elbo_per_entry))
      throw Error("training diverged at epoch " + std::to_string(epoch) +
                  " (non-finite ELBO); try a smaller --lr");

    lr *= tc.lr_decay;
    if (!em.has_test) continue;
    if (em.test_nll < best_nll) {
      best_nll = em.test_nll;
      since_best = 0;
      model.best_epoch = epoch;
      backend.store_guide(model);
      best = model;
    } else if (tc.patience > 0 && (!config.pool || epoch > pool_warmup) &&
               ++since_best >= tc.patience) {
      // Patience starts with pooling: held-out NLL may rise under the warm-up's fixed prior.
      if (!tc.quiet)
        std::fprintf(stderr,
                     "early stop: held-out NLL has not improved for %d epochs; keeping epoch %d\n",
                     tc.patience, model.best_epoch);
      break;
    }
  }
  if (model.best_epoch > 0) {
    best.history = model.history;
    return best;
  }
  model.best_epoch = static_cast<int>(model.history.size());
  backend.store_guide(model);
  return model;
}

}  // namespace ppmf

// The training loop (one for all backends). See scheduler.hpp.
#include "ppmf/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <tuple>
#include <vector>

#include "cpu_backend.hpp"
#include "ppmf/cancel.hpp"
#include "ppmf/checkpoint.hpp"
#include "ppmf/entry_math.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/hyper.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/ranking.hpp"
#include "ppmf/recommend.hpp"
#include "distributed_training.hpp"
#include "ppmf/split.hpp"
#include "ppmf/watch.hpp"

namespace ppmf {

namespace {

// init_model on one rank of a distributed run (comm non-null: `train` holds this rank's users and
// every item; counts, mu0 and sigma^2 are over every rank, the item guide is rank 0's).
Model init_model_on(const Ratings& train, const std::vector<float>& values,
                    const ModelConfig& config, const GroupFile* user_groups,
                    const GroupFile* item_groups, uint64_t seed, Comm* comm) {
  validate(config);
  if (train.size() == 0)
    throw Error(comm ? "no training entries left for this rank's users after the validation "
                       "split (too many ranks for the data?)"
                     : "no training entries");
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
  // Sums over every rank: [sum, n], then the squares.
  double sums[2] = {0, static_cast<double>(values.size())}, sq = 0;
  for (float v : values) sums[0] += v;
  if (comm) {
    agree_groups(m.user_groups, *comm);
    m.item_count = sum_counts(m.item_count, *comm);
    comm->sum(sums, 2);
    m.n_train = static_cast<size_t>(sums[1]);
  }
  m.mu0 = static_cast<float>(sums[0] / sums[1]);
  for (float v : values) sq += (v - m.mu0) * static_cast<double>(v - m.mu0);
  if (comm) comm->sum(&sq, 1);
  m.sigma2 = static_cast<float>(std::max(sq / sums[1], 1e-6));
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
  if (comm && comm->size() > 1) {  // one item guide on every rank: rank 0's draw
    GuideBlock& V = m.V;
    for (std::vector<float>* a : {&V.mean, &V.logsd, &V.bias_mean, &V.bias_logsd}) {
      const std::string b = comm->broadcast(
          std::string(reinterpret_cast<const char*>(a->data()), a->size() * sizeof(float)), 0);
      std::memcpy(a->data(), b.data(), b.size());
    }
  }
  m.user_prior.reset(static_cast<int>(m.user_groups.names.size()), d);
  m.item_prior.reset(static_cast<int>(m.item_groups.names.size()), d);
  return m;
}

}  // namespace

Model init_model(const Ratings& train, const std::vector<float>& values, const ModelConfig& config,
                 const GroupFile* user_groups, const GroupFile* item_groups, uint64_t seed) {
  return init_model_on(train, values, config, user_groups, item_groups, seed, nullptr);
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

  Comm* comm;
  double total = 0;  // entries over every rank

  HeldOut(const Model& model, const Ratings* table, const GroupFile* ug, const GroupFile* ig,
          Comm* c)
      : comm(c) {
    if (table != nullptr && table->size() > 0) {
      pairs = resolve_pairs(model, *table, ug, ig);
      values = model_scale(*table, model.config.transform);
      mean.resize(values.size());
      var.resize(values.size());
    }
    total = static_cast<double>(values.size());
    if (comm) comm->sum(&total, 1);
  }
  bool empty() const { return total == 0; }
  // RMSE and mean NLL on the model scale.
  std::pair<double, double> score(Backend& backend) {
    if (!values.empty()) backend.predict(pairs.index.data(), values.size(), mean.data(), var.data());
    double sums[2] = {0, 0};  // squared errors, NLL
    for (size_t k = 0; k < values.size(); ++k) {
      const double err = values[k] - mean[k];
      sums[0] += err * err;
      sums[1] += math::gaussian_nll(values[k], mean[k], var[k]);
    }
    if (comm) comm->sum(sums, 2);
    return {std::sqrt(sums[0] / total), sums[1] / total};
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

namespace {

// Buffers of solve_items_across, kept for a whole run (fresh ones would cost page faults every
// range of every epoch).
struct ItemExchange {
  std::vector<double> stats;
  std::vector<float> rows;
};

// Items [begin, end) on every rank of a distributed run: each rank's statistics summed over the
// ranks slice by slice (reduce-scatter), each rank solving its slice, then the solved rows shared.
// Moves (P - 1) / P x rows x (statistics + guide row) bytes per rank, whatever P.
void solve_items_across(Backend& backend, int rank, int begin, int end, Comm& comm,
                        ItemExchange& x) {
  const size_t stat = row_statistics_size(rank), row = 2 * (static_cast<size_t>(rank) + 1);
  const size_t n = static_cast<size_t>(end - begin), me = static_cast<size_t>(comm.rank());
  const std::vector<size_t> cut = comm.even_cut(n);
  std::vector<size_t> stat_cut(cut), row_cut(cut);
  for (size_t r = 0; r < cut.size(); ++r) {
    stat_cut[r] *= stat;
    row_cut[r] *= row;
  }
  std::vector<double>& stats = x.stats;
  stats.resize(n * stat);
  on_every_rank(comm, [&] { backend.row_statistics(Side::kItems, begin, end, stats.data()); });
  comm.sum_slices(stats.data(), stat_cut);
  std::vector<float>& rows = x.rows;
  rows.resize(n * row);
  const int mine_begin = begin + static_cast<int>(cut[me]), mine_end = begin + static_cast<int>(cut[me + 1]);
  on_every_rank(comm, [&] {
    backend.solve_rows_from(Side::kItems, mine_begin, mine_end, stats.data() + stat_cut[me]);
    backend.get_rows(Side::kItems, mine_begin, mine_end, rows.data() + row_cut[me]);
  });
  comm.share_slices(rows.data(), sizeof(float), row_cut);
  on_every_rank(comm, [&] { backend.set_rows(Side::kItems, begin, end, rows.data()); });
}

// The group sums of every rank, in one collective.
void sum_moments(GroupMoments& gm, Comm& comm) {
  const std::initializer_list<std::vector<double>*> parts = {&gm.count, &gm.sum_mean,
                                                             &gm.sum_outer, &gm.sum_var};
  std::vector<double> all;
  for (const std::vector<double>* v : parts) all.insert(all.end(), v->begin(), v->end());
  comm.sum(all);
  auto at = all.begin();
  for (std::vector<double>* v : parts) {
    std::copy(at, at + static_cast<long>(v->size()), v->begin());
    at += static_cast<long>(v->size());
  }
}

// Every user row, then every item row, each side followed by its pooling update.
void sweep(Backend& backend, Model& model, const TrainConfig& tc, const SweepProgress& progress,
           Comm* comm, ItemExchange& exchange, bool implicit_zeros = false) {
  const size_t total_rows = static_cast<size_t>(model.U.n) + model.V.n;
  size_t done = 0;
  for (const Side side : {Side::kUsers, Side::kItems}) {
    const int n = side == Side::kUsers ? model.U.n : model.V.n;
    const bool across = comm != nullptr && side == Side::kItems;
    if (across && implicit_zeros) {  // the implicit zeros of every rank's users
      std::vector<double> bg = backend.implicit_background(side);
      comm->sum(bg);
      backend.set_background(side, bg);
    }
    // Across ranks, ranges are capped by the bytes of their statistics (statistics_rows_per_call).
    const int step = across ? statistics_rows_per_call(model.rank(), kRowsPerCall) : kRowsPerCall;
    for (int begin = 0; begin < n; begin += step) {
      const int end = std::min(n, begin + step);
      if (across)
        solve_items_across(backend, model.rank(), begin, end, *comm, exchange);
      else
        backend.solve_rows(side, begin, end);
      done += static_cast<size_t>(end - begin);
      if (progress) progress(done, total_rows);
    }
    // Pooling sees each side right after its sweep, so the item sweep uses the new user priors'
    // consequences and the next user sweep the new item priors.
    if (model.config.pool) {
      PriorBlock& prior = side == Side::kUsers ? model.user_prior : model.item_prior;
      GroupMoments gm = backend.group_moments(side);
      if (comm && side == Side::kUsers) sum_moments(gm, *comm);  // items: the same on every rank
      update_prior(gm, model.config, tc.pool_iters, prior);
      backend.set_priors(model);
    }
  }
}

EpochMetrics train_epoch(Backend& backend, Model& model, const TrainConfig& tc,
                         const SweepProgress& progress, Comm* comm, ItemExchange& exchange) {
  const auto t0 = Clock::now();
  sweep(backend, model, tc, progress, comm, exchange);
  backend.synchronize();
  const double solve_seconds = seconds_since(t0);

  // Full pass: the ELBO at the new guide and priors, then the noise update.
  TrainPassStats st = backend.train_pass();
  if (comm) {  // every rank's entries and users; the items' KL is the same on every rank
    double sums[4] = {st.sse_expected, st.sse_mean, st.kl_users, static_cast<double>(st.n)};
    comm->sum(sums, 4);
    st.sse_expected = sums[0];
    st.sse_mean = sums[1];
    st.kl_users = sums[2];
    st.n = static_cast<size_t>(sums[3]);
  }
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

}  // namespace

EpochMetrics run_epoch(Backend& backend, Model& model, const TrainConfig& tc,
                       const SweepProgress& progress, Comm* comm) {
  ItemExchange exchange;
  return train_epoch(backend, model, tc, progress, comm, exchange);
}

namespace {

// A 64-bit digest of the bytes a run depends on (fingerprint of a checkpoint).
class Digest {
 public:
  void bytes(const void* p, size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    for (; n >= 8; n -= 8, c += 8) {
      uint64_t w;
      std::memcpy(&w, c, 8);
      h_ = splitmix64(h_ ^ w);
    }
    uint64_t tail = n;
    for (size_t k = 0; k < n; ++k) tail = (tail << 8) | c[k];
    h_ = splitmix64(h_ ^ tail);
  }
  template <class T>
  void array(const std::vector<T>& v) {
    size(v.size());
    bytes(v.data(), v.size() * sizeof(T));
  }
  void text(std::string_view s) {
    size(s.size());
    bytes(s.data(), s.size());
  }
  void size(uint64_t n) { bytes(&n, sizeof n); }
  void ids(const IdMap& m) {
    size(m.size());
    for (size_t k = 0; k < m.size(); ++k) text(m.name(static_cast<int32_t>(k)));
  }
  void groups(const GroupFile* g) {
    if (g == nullptr) return size(0);
    std::vector<std::pair<std::string, std::string>> sorted(g->begin(), g->end());
    std::sort(sorted.begin(), sorted.end());
    size(sorted.size() + 1);
    for (const auto& [id, group] : sorted) {
      text(id);
      text(group);
    }
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0x70706d66ULL;
};

// What a model depends on besides its settings: the training entries, the group files and the
// warm-start model (the test entries are reported only).
uint64_t run_fingerprint(const TrainInputs& in) {
  Digest d;
  const Ratings& r = *in.train;
  d.ids(r.users);
  d.ids(r.items);
  d.array(r.user);
  d.array(r.item);
  d.array(r.value);
  d.groups(in.user_groups);
  d.groups(in.item_groups);
  // A part's posteriors (users', items') and priors.
  const auto posteriors = [&d](const GuideBlock& U, const GuideBlock& V,
                               const PriorBlock& user_prior, const PriorBlock& item_prior) {
    for (const GuideBlock* g : {&U, &V}) {
      d.array(g->mean);
      d.array(g->logsd);
      d.array(g->bias_mean);
      d.array(g->bias_logsd);
    }
    for (const PriorBlock* p : {&user_prior, &item_prior}) {
      d.array(p->mean);
      d.array(p->cov);
    }
  };
  if (in.warm_start != nullptr) {
    const Model& w = *in.warm_start;
    d.ids(w.users);
    d.ids(w.items);
    posteriors(w.U, w.V, w.user_prior, w.item_prior);
    d.bytes(&w.mu0, sizeof w.mu0);
    d.bytes(&w.sigma2, sizeof w.sigma2);
    if (w.watch.present) {  // the watch part starts from it too, with its weights
      const WatchPart& p = w.watch;
      d.bytes(&p.config.rank, sizeof p.config.rank);
      d.bytes(&p.config.alpha, sizeof p.config.alpha);
      d.bytes(&p.config.zero_weight, sizeof p.config.zero_weight);
      posteriors(p.U, p.V, p.user_prior, p.item_prior);
    }
  }
  return d.value();
}

// Refuses a checkpoint of another run, naming the first difference.
void check_resumable(const Checkpoint& c, const std::string& path, const ModelConfig& mc,
                     const TrainConfig& tc, uint64_t fingerprint) {
  const auto refuse = [&](const std::string& why) {
    throw Error(path + ": cannot resume this run: " + why);
  };
  const ModelConfig& a = c.position.model_config;
  const TrainConfig& b = c.position.train_config;
  const auto differs = [&](const char* field, auto was, auto now) {
    if (was != now)
      refuse(std::string("the checkpoint's ") + field + " is " + std::to_string(was) +
             ", this run's " + std::to_string(now));
  };
  differs("rank", a.rank, mc.rank);
  differs("transform", static_cast<int>(a.transform), static_cast<int>(mc.transform));
  differs("pool", a.pool, mc.pool);
  differs("tau", a.tau, mc.tau);
  differs("prec_a0", a.prec_a0, mc.prec_a0);
  differs("prec_b0", a.prec_b0, mc.prec_b0);
  differs("noise_a", a.noise_a, mc.noise_a);
  differs("noise_b", a.noise_b, mc.noise_b);
  differs("init_sd", a.init_sd, mc.init_sd);
  differs("epochs", b.epochs, tc.epochs);
  differs("patience", b.patience, tc.patience);
  differs("min_improvement", b.min_improvement, tc.min_improvement);
  differs("valid_frac", b.valid_frac, tc.valid_frac);
  differs("refit", b.refit, tc.refit);
  differs("pool_iters", b.pool_iters, tc.pool_iters);
  differs("seed", b.seed, tc.seed);
  differs("watch model flag", b.watch.enabled, tc.watch.enabled);
  if (tc.watch.enabled) {
    differs("watch_rank", b.watch.rank, tc.watch.rank);
    differs("watch_alpha", b.watch.alpha, tc.watch.alpha);
    differs("watch_zero_weight", b.watch.zero_weight, tc.watch.zero_weight);
    differs("watch_epochs", b.watch.epochs, tc.watch.epochs);
  }
  if (c.position.fingerprint != fingerprint)
    refuse("it was made from other data (training entries, group files or warm-start model)");
}

// A checkpoint's model must cover the phase's table (`entries`: over every rank) (the fingerprint matched, so only a damaged
// checkpoint with a valid checksum fails here).
void check_fits(const Model& m, const Ratings& table, size_t entries, const std::string& path) {
  if (m.users.size() != table.users.size() || m.items.size() != table.items.size() ||
      m.n_train != entries)
    throw Error(path + ": cannot resume this run: its model does not match the training data");
}

// A run between epochs: its position, the host copy of its model (priors and noise always
// current, the guide current after store_guide) and phase 0's best model so far (a copy taken at
// that epoch, priors and noise included).
struct Run {
  RunPosition at;
  Model model;
  bool has_best = false;
  Model best;
  int written_epoch = 0;  // the last epoch in the checkpoint file (0: none)
  Comm* comm = nullptr;   // a distributed run's ranks (TrainInputs::comm)
  CommStats epoch_comm;   // this rank's traffic in epochs (distributed runs)
  ItemExchange exchange;  // the distributed item sweep's buffers
  int comm_epochs = 0;
};

// The epochs of the run's current phase on a loaded backend, until the phase's target or an early
// stop, with held-out scoring and checkpoints. Ends with the guide in run.model.
void run_phase(Backend& backend, Run& run, const TrainConfig& tc, HeldOut& valid, HeldOut& test,
               const TrainCallbacks& cb) {
  RunPosition& at = run.at;
  Model& model = run.model;
  const int target = at.phase == 0 ? tc.epochs : at.refit_epochs;
  const auto finished = [&] {
    return at.phase_epochs >= target || (at.phase == 0 && at.stopped_early);
  };
  while (!finished()) {
    const int epoch = static_cast<int>(model.history.size()) + 1;
    const CommStats comm_before = run.comm ? run.comm->stats() : CommStats{};
    EpochMetrics em = train_epoch(backend, model, tc, [&](size_t done, size_t total) {
      if (cb.on_progress) cb.on_progress(epoch, done, total);
      if (cancel_requested() || (cb.cancelled && cb.cancelled()))
        throw Cancelled("training interrupted during epoch " + std::to_string(epoch) + "; " +
                        (run.written_epoch > 0 ? "the checkpoint " + tc.checkpoint +
                                                     " holds epoch " +
                                                     std::to_string(run.written_epoch)
                                               : std::string("no checkpoint was written")));
    }, run.comm, run.exchange);
    em.epoch = epoch;
    if (!valid.empty()) {
      em.has_valid = true;
      std::tie(em.valid_rmse, em.valid_nll) = valid.score(backend);
    }
    if (!test.empty()) {
      em.has_test = true;
      std::tie(em.test_rmse, em.test_nll) = test.score(backend);
    }
    if (run.comm) {
      const CommStats& after = run.comm->stats();
      run.epoch_comm.seconds += after.seconds - comm_before.seconds;
      run.epoch_comm.wait_seconds += after.wait_seconds - comm_before.wait_seconds;
      run.epoch_comm.bytes += after.bytes - comm_before.bytes;
      run.epoch_comm.calls += after.calls - comm_before.calls;
      ++run.comm_epochs;
    }
    model.history.push_back(em);
    ++at.phase_epochs;
    if (cb.on_epoch) cb.on_epoch(em);
    if (em.has_valid) {
      std::vector<double>& nll = at.valid_nll;
      nll.push_back(em.valid_nll);
      if (at.best_epoch == 0 || em.valid_nll < nll[static_cast<size_t>(at.best_epoch) - 1]) {
        at.best_epoch = epoch;
        backend.store_guide(model);
        run.best = model;
        run.has_best = true;
      }
      // Stop once the last `patience` epochs have improved on the best before them by less than
      // min_improvement.
      const size_t p = static_cast<size_t>(tc.patience);
      if (p > 0 && nll.size() > p) {
        const double before = *std::min_element(nll.begin(), nll.end() - static_cast<long>(p));
        const double recent = *std::min_element(nll.end() - static_cast<long>(p), nll.end());
        if (recent > before - tc.min_improvement) {
          at.stopped_early = true;
          if (cb.on_note) {
            char line[160];
            std::snprintf(line, sizeof line,
                          "early stop: validation NLL improved by less than %g over %d epochs; "
                          "keeping epoch %d",
                          tc.min_improvement, tc.patience, at.best_epoch);
            cb.on_note(line);
          }
        }
      }
    }
    if (!tc.checkpoint.empty() && (finished() || at.phase_epochs % tc.checkpoint_every == 0)) {
      backend.store_guide(model);
      // The best model is written apart only when it is not the model of this epoch.
      save_checkpoint(tc.checkpoint, at, model,
                      run.has_best && at.best_epoch != epoch ? &run.best : nullptr);
      run.written_epoch = epoch;
    }
  }
  backend.store_guide(model);
}

// The compacted table of a phase and its model-scale values.
void phase_table(const Ratings& table, Transform t, Ratings& compacted, std::vector<float>& values,
                 Comm* comm) {
  compacted = comm ? compact_across(table, *comm) : compact(table);
  values = model_scale(compacted, t);
}

Model fresh_model(const Ratings& compacted, const std::vector<float>& values,
                  const ModelConfig& config, const TrainInputs& in, const TrainConfig& tc) {
  Model model = init_model_on(compacted, values, config, in.user_groups, in.item_groups, tc.seed,
                              in.comm);
  if (in.warm_start) warm_start_from(*in.warm_start, model);
  return model;
}

// The model and the phase's entries into the backend (in a distributed run, with the items'
// counts over every rank); the watch part's zero weight in between.
void load_backend(Backend& b, const Model& model, const Ratings& table,
                  const std::vector<float>& values, Comm* comm, float zero_weight = 0) {
  b.load_model(model);
  if (zero_weight > 0) b.set_implicit(zero_weight);
  b.load_training(table.user, table.item, values);
  if (comm) on_every_rank(*comm, [&] { b.set_entry_counts(Side::kItems, model.item_count); });
}

// A watch part trained on `table` with `wc` (its rank resolved): the same sweeps with implicit
// zeros, on `b`, from its own seeded guide and N(0, I) priors, so it depends only on the data
// and the settings; or, given `warm` (the watch view of a warm-start model), from its posteriors
// and priors, as the value part starts from the model's. Leaves the view loaded in `b`, for
// scoring.
Model fit_watch(Backend& b, const Ratings& table, const TrainInputs& in, const TrainConfig& tc,
                const WatchConfig& wc, const ModelConfig& base, const TrainCallbacks& cb,
                int epoch_label, const Model* warm = nullptr) {
  ModelConfig config = base;
  config.rank = wc.rank;
  const std::vector<float> confidence(table.size(), watch_confidence(wc));
  Model view = init_model_on(table, confidence, config, in.user_groups, in.item_groups,
                             tc.seed ^ 0x77617463ULL, in.comm);
  if (warm) warm_start_from(*warm, view);
  view.mu0 = 0.0f;
  view.sigma2 = 1.0f;
  load_backend(b, view, table, confidence, in.comm, wc.zero_weight);
  ItemExchange exchange;
  for (int e = 1; e <= wc.epochs; ++e)
    sweep(b, view, tc, [&](size_t done, size_t total) {
      if (cb.on_progress) cb.on_progress(epoch_label, done, total);
      if (cancel_requested() || (cb.cancelled && cb.cancelled()))
        throw Cancelled("training interrupted while fitting the watch model" +
                        (tc.checkpoint.empty() ? std::string("; no checkpoint was written")
                                               : "; the checkpoint " + tc.checkpoint +
                                                     " holds the finished minutes part"));
    }, in.comm, exchange, true);
  b.store_guide(view);
  b.set_implicit(0.0f);
  return view;
}

// The watch model's alpha (and zero weight) when left to the data (WatchConfig: 0): the
// validation split of the training entries (carved as for the number of epochs) scores
// recall@10 of each candidate's lists (every validation entry relevant, training items excluded)
// after fitting on the rest with a fifth of the sweeps (at least 2). alpha = zero_weight x ratio
// over ratios 1, 8, 64, then halving and doubling the best ratio while that improves; then, when
// the zero weight is left to the data too, the zero weight (from 8) is divided and multiplied by
// 4 at the best ratio while that improves. The best signal-to-zeros ratio grows as the data get
// sparser (MovieLens 100K: about 2, Last.fm: about 8), so no single default fits.
WatchConfig choose_watch_weights(Backend& b, const Ratings& all, const TrainInputs& in,
                                 const TrainConfig& tc, WatchConfig wc, const ModelConfig& base,
                                 const TrainCallbacks& cb, int epoch_label) {
  const bool free_zero_weight = wc.zero_weight <= 0;
  if (free_zero_weight) wc.zero_weight = 8.0f;
  const Split parts = split_by_hash(all, std::max(tc.valid_frac, 0.05), tc.seed ^ 0x5a17ULL);
  Comm* comm = in.comm;
  const int ranks = comm ? comm->size() : 1;
  const Ratings fit = comm ? compact_across(parts.train, *comm) : compact(parts.train);
  // Validation users known to the fit, their training items and their entries.
  std::vector<int32_t> row_of(parts.test.users.size(), -1), users;
  std::vector<std::vector<int32_t>> seen, relevant;
  for (size_t e = 0; e < parts.test.size(); ++e) {
    const int32_t u = fit.users.find(parts.test.users.name(parts.test.user[e]));
    const int32_t j = fit.items.find(parts.test.items.name(parts.test.item[e]));
    if (u < 0 || j < 0) continue;
    int32_t& r = row_of[parts.test.user[e]];
    if (r < 0) {
      r = static_cast<int32_t>(users.size());
      users.push_back(u);
      relevant.emplace_back();
    }
    relevant[r].push_back(j);
  }
  // Each candidate scores every item for each of them, so their number is capped by the scores
  // it costs (40 M over the ranks: 2,000 users of a 20,000-item catalog, a few tenths of a second
  // on two cores; at least 1,000 users): past ~1,000 users the recall of close candidates differs
  // by less than its own noise. Kept by a hash of the id, not by file order (often by user).
  const size_t kScores = 40'000'000, kMinUsers = 1000;
  const size_t max_users = std::max(kMinUsers, kScores / std::max<size_t>(1, fit.items.size()));
  const size_t users_per_rank = (max_users + ranks - 1) / ranks;
  if (users.size() > users_per_rank) {
    std::vector<std::pair<uint64_t, size_t>> by_hash(users.size());
    for (size_t k = 0; k < users.size(); ++k)
      by_hash[k] = {splitmix64(hash_id(fit.users.name(users[k])) ^ tc.seed), k};
    std::nth_element(by_hash.begin(), by_hash.begin() + users_per_rank, by_hash.end());
    by_hash.resize(users_per_rank);
    std::sort(by_hash.begin(), by_hash.end(),
              [](const auto& x, const auto& y) { return x.second < y.second; });
    std::vector<int32_t> kept_users;
    std::vector<std::vector<int32_t>> kept_relevant;
    for (const auto& [h, k] : by_hash) {
      kept_users.push_back(users[k]);
      kept_relevant.push_back(std::move(relevant[k]));
    }
    users = std::move(kept_users);
    relevant = std::move(kept_relevant);
  }
  double validation_users = static_cast<double>(users.size());
  if (comm) comm->sum(&validation_users, 1);
  if (validation_users == 0) {  // nothing to choose by: a middle value
    if (wc.alpha <= 0) wc.alpha = wc.zero_weight * 8;
    return wc;
  }
  const std::vector<std::vector<int32_t>> fit_seen = items_per_user(fit);
  for (const int32_t u : users) {
    seen.push_back(fit_seen[u]);
    std::sort(seen.back().begin(), seen.back().end());
  }
  for (auto& list : relevant) std::sort(list.begin(), list.end());
  WatchConfig trial = wc;
  trial.epochs = std::max(2, wc.epochs / 5);  // enough to rank the candidates (tested)
  std::vector<std::tuple<float, float, double>> tried;  // (zero weight, alpha, recall)
  const auto score = [&](float zero_weight, float alpha) {
    for (const auto& [z, a, r] : tried)
      if (z == zero_weight && a == alpha) return r;
    trial.zero_weight = zero_weight;
    trial.alpha = alpha;
    const Model view = fit_watch(b, fit, in, tc, trial, base, cb, epoch_label);
    RecommendOptions opt;
    opt.k = 10;
    opt.objective = Objective::kMinutes;  // the view's own score: the watch score
    double recall = users.empty() ? 0 : rank_and_score(b, view, users, seen, relevant, opt).recall;
    if (ranks > 1) {  // the mean over every rank's users
      double sums[2] = {recall * static_cast<double>(users.size()), static_cast<double>(users.size())};
      comm->sum(sums, 2);
      recall = sums[0] / sums[1];
    }
    tried.emplace_back(zero_weight, alpha, recall);
    return recall;
  };
  float best_zero = wc.zero_weight, best_ratio = 1;
  double best = -1;
  const auto consider = [&](float zero_weight, float ratio) {
    const double r = score(zero_weight, zero_weight * ratio);
    if (!(r > best)) return false;
    best = r;
    best_zero = zero_weight;
    best_ratio = ratio;
    return true;
  };
  if (wc.alpha > 0) {
    consider(wc.zero_weight, wc.alpha / wc.zero_weight);
  } else {
    for (const float ratio : {1.0f, 8.0f, 64.0f}) consider(wc.zero_weight, ratio);
    for (const float step : {0.5f, 2.0f})
      for (float ratio = best_ratio * step; ratio >= 1.0f / 64 && ratio <= 4096; ratio *= step)
        if (!consider(wc.zero_weight, ratio)) break;
  }
  if (free_zero_weight)
    for (const float step : {0.25f, 4.0f})
      for (float z = best_zero * step; z >= 1.0f / 64 && z <= 4096; z *= step)
        if (!consider(z, best_ratio)) break;
  if (cb.on_note) {
    std::string line = "watch model: weights chosen on " +
                       std::to_string(static_cast<size_t>(validation_users)) +
                       " validation users (zero weight/alpha: recall@10):";
    char item[80];
    std::sort(tried.begin(), tried.end());
    for (const auto& [z, a, r] : tried) {
      std::snprintf(item, sizeof item, " %g/%g: %.4f", z, a, r);
      line += item;
    }
    cb.on_note(line);
  }
  wc.zero_weight = best_zero;
  wc.alpha = best_zero * best_ratio;
  return wc;
}

// The watch part (WatchConfig) of a trained model, on the table its minutes part was trained
// on, on `backend` when it has implicit zeros, else on the CPU.
void train_watch(Backend& backend, Model& model, const Ratings& table, const TrainInputs& in,
                 const TrainConfig& tc, const TrainCallbacks& cb, TrainReport& report) {
  const auto t0 = Clock::now();
  WatchConfig wc = tc.watch;
  if (wc.rank < 0) wc.rank = model.rank();
  std::unique_ptr<Backend> cpu;
  Backend* b = &backend;
  if (!backend.supports_implicit()) {
    cpu = make_cpu_backend(0);
    b = cpu.get();
  }
  const int label = static_cast<int>(model.history.size()) + 1;
  // A warm start with a watch part of this rank starts the watch part from it too, with its
  // weights where this run leaves them to the data (with one weight given, the other keeps their
  // ratio, the balance that matters): retraining on much the same data, the search (half of the
  // watch part's time) would find the same ones. Its trial fits could not start from the old
  // posteriors anyway: those have seen the validation entries.
  const WatchPart* old = in.warm_start && in.warm_start->watch.present ? &in.warm_start->watch
                                                                        : nullptr;
  std::optional<Model> warm;
  if (old && old->config.rank == wc.rank) {
    warm = watch_view(*in.warm_start);
    const float ratio = old->config.alpha / old->config.zero_weight;
    if (wc.alpha <= 0 && wc.zero_weight <= 0) {
      wc.alpha = old->config.alpha;
      wc.zero_weight = old->config.zero_weight;
    } else if (wc.alpha <= 0) {
      wc.alpha = wc.zero_weight * ratio;
    } else if (wc.zero_weight <= 0) {
      wc.zero_weight = wc.alpha / ratio;
    }
  } else if (old && cb.on_note) {
    cb.on_note("watch model: the warm-start model's watch part has rank " +
               std::to_string(old->config.rank) + ", this run's " + std::to_string(wc.rank) +
               "; the watch part starts afresh");
  }
  if (wc.alpha <= 0 || wc.zero_weight <= 0)
    wc = choose_watch_weights(*b, *in.train, in, tc, wc, model.config, cb, label);
  Model view = fit_watch(*b, table, in, tc, wc, model.config, cb, label, warm ? &*warm : nullptr);
  model.watch.present = true;
  model.watch.config = wc;
  model.watch.U = std::move(view.U);
  model.watch.V = std::move(view.V);
  model.watch.user_prior = std::move(view.user_prior);
  model.watch.item_prior = std::move(view.item_prior);
  report.watch_device = b->name();
  report.watch_seconds = seconds_since(t0);
  if (cb.on_note) {
    char line[200];
    std::snprintf(line, sizeof line,
                  "watch model: rank %d, %d sweeps%s, alpha %g, zero weight %g, %.2fs on %s",
                  wc.rank, wc.epochs, warm ? " from the warm-start model" : "", wc.alpha,
                  wc.zero_weight, report.watch_seconds, b->name().c_str());
    cb.on_note(line);
  }
}

}  // namespace

namespace {

// Entries over every rank.
size_t entries_across(size_t local, Comm* comm) {
  double n = static_cast<double>(local);
  if (comm) comm->sum(&n, 1);
  return static_cast<size_t>(n);
}

TrainResult train_run(const TrainInputs& in, const ModelConfig& config, const TrainConfig& tc,
                      Backend& backend, const TrainCallbacks& cb) {
  const auto t0 = Clock::now();
  Comm* comm = in.comm;
  if (in.train == nullptr || in.train->size() == 0)
    throw Error(comm ? "no training entries for this rank's users (too many ranks for the data?)"
                     : "no training entries");
  TrainReport report;
  report.device = backend.name();
  report.test_entries = entries_across(in.test ? in.test->size() : 0, comm);
  const uint64_t fingerprint = run_fingerprint(in);

  Run run;
  run.comm = comm;
  const bool resumed = !in.resume_from.empty();
  if (resumed) {
    Checkpoint c = load_checkpoint(in.resume_from);
    check_resumable(c, in.resume_from, config, tc, fingerprint);
    run.at = std::move(c.position);
    run.model = std::move(c.model);
    run.has_best = c.has_best;
    run.best = std::move(c.best);
    if (!run.has_best && run.at.best_epoch > 0 &&
        run.at.best_epoch == static_cast<int>(run.model.history.size())) {
      run.best = run.model;  // the best epoch was the checkpoint's last
      run.has_best = true;
    }
    if (in.resume_from == tc.checkpoint)
      run.written_epoch = static_cast<int>(run.model.history.size());
    if (comm) {
      const int64_t epochs = static_cast<int64_t>(run.model.history.size());
      if (comm->min(epochs) != -comm->min(-epochs))
        throw Error(in.resume_from + ": the ranks' checkpoints hold different epochs");
    }
    if (cb.on_note)
      cb.on_note("resuming after epoch " + std::to_string(run.model.history.size()) + " from " +
                 in.resume_from);
  } else {
    run.at.fingerprint = fingerprint;
    run.at.model_config = config;
    run.at.train_config = tc;
  }

  // Phase 0. The validation entries are carved before the ids are compacted, so an id seen only
  // there is new to the model, as it would be in service.
  const bool validate_epochs = tc.valid_frac > 0;
  const Split parts = validate_epochs ? split_by_hash(*in.train, tc.valid_frac, tc.seed) : Split{};
  if (validate_epochs && entries_across(parts.train.size(), comm) == 0)
    throw Error("the validation split left no training entries (lower valid_frac)");
  Ratings train;
  std::vector<float> values;
  if (run.at.phase == 0) {
    phase_table(validate_epochs ? parts.train : *in.train, config.transform, train, values, comm);
    report.train_entries = entries_across(train.size(), comm);
    report.valid_entries = entries_across(parts.test.size(), comm);
    if (resumed)
      check_fits(run.model, train, report.train_entries, in.resume_from);
    else
      run.model = fresh_model(train, values, config, in, tc);
    load_backend(backend, run.model, train, values, comm);
    HeldOut valid(run.model, validate_epochs ? &parts.test : nullptr, in.user_groups,
                  in.item_groups, comm);
    HeldOut test(run.model, in.test, in.user_groups, in.item_groups, comm);
    run_phase(backend, run, tc, valid, test, cb);
    if (!validate_epochs || !tc.refit) {
      if (run.has_best) {  // keep the best epoch's model; the history goes on to the last epoch
        run.best.history = std::move(run.model.history);
        run.model = std::move(run.best);
      }
      run.model.best_epoch = validate_epochs ? run.at.best_epoch
                                             : static_cast<int>(run.model.history.size());
    } else {
      run.at.phase = 1;
      run.at.phase_epochs = 0;
      run.at.refit_epochs = run.at.best_epoch;
    }
  }
  if (validate_epochs) {
    report.chosen_epoch = run.at.best_epoch;
    report.stopped_early = run.at.stopped_early;
  }

  if (run.at.phase == 1) {
    // The chosen number of epochs, again from the start, on every entry.
    phase_table(*in.train, config.transform, train, values, comm);
    report.train_entries = entries_across(train.size(), comm);
    if (run.at.phase_epochs == 0) {
      if (cb.on_note)
        cb.on_note("refit: " + std::to_string(run.at.refit_epochs) + " epochs on all " +
                   std::to_string(report.train_entries) + " entries (validation included)");
      std::vector<EpochMetrics> history = std::move(run.model.history);
      run.model = fresh_model(train, values, config, in, tc);
      run.model.history = std::move(history);
      run.has_best = false;
    } else {
      check_fits(run.model, train, report.train_entries, in.resume_from);
    }
    report.refit = true;
    load_backend(backend, run.model, train, values, comm);
    HeldOut none(run.model, nullptr, nullptr, nullptr, comm);
    HeldOut test(run.model, in.test, in.user_groups, in.item_groups, comm);
    run_phase(backend, run, tc, none, test, cb);
    run.model.best_epoch = static_cast<int>(run.model.history.size());
  }
  if (validate_epochs) report.chosen = run.model.history[static_cast<size_t>(run.at.best_epoch) - 1];
  if (comm) {
    report.ranks = comm->size();
    report.transport = comm->transport();
    report.epoch_comm = run.epoch_comm;
    report.comm_epochs = run.comm_epochs;
  }
  if (tc.watch.enabled) train_watch(backend, run.model, train, in, tc, cb, report);
  Model model = comm ? gather_model(std::move(run.model), *comm) : std::move(run.model);
  if (!comm || comm->rank() == 0) compute_new_user_prior(model);
  report.epochs_run = static_cast<int>(model.history.size());
  report.kept = model.history[static_cast<size_t>(model.best_epoch) - 1];
  report.seconds = seconds_since(t0);
  return {std::move(model), std::move(report)};
}

// PATH.rank-R-of-P: one checkpoint file per rank of a distributed run.
std::string rank_file(const std::string& path, const Comm& comm) {
  if (path.empty() || comm.size() == 1) return path;
  return path + ".rank-" + std::to_string(comm.rank()) + "-of-" + std::to_string(comm.size());
}

}  // namespace

TrainResult train(const TrainInputs& in, const ModelConfig& config, const TrainConfig& tc,
                  Backend& backend, const TrainCallbacks& cb) {
  validate(config);
  validate(tc);
  if (in.comm == nullptr) return train_run(in, config, tc, backend, cb);
  Comm& comm = *in.comm;
  TrainInputs local = in;
  TrainConfig local_tc = tc;
  local.resume_from = rank_file(in.resume_from, comm);
  local_tc.checkpoint = rank_file(tc.checkpoint, comm);
  TrainResult result = on_every_rank(comm, [&] { return train_run(local, config, local_tc, backend, cb); });
  comm.finish();
  return result;
}

}  // namespace ppmf

// Top-K recommendation: scores come from Backend::score_all_items in blocks of users; ranking and
// exclusion run here, a partial sort per user.
#include "ppmf/recommend.hpp"

#include <algorithm>
#include <cmath>

#include "ppmf/common.hpp"
#include "ppmf/groups.hpp"
#include "ppmf/watch.hpp"

namespace ppmf {

Explore parse_explore(const std::string& s) {
  if (s == "none") return Explore::kNone;
  if (s == "thompson") return Explore::kThompson;
  if (s == "ucb") return Explore::kUcb;
  throw ConfigError("explore", "unknown mode '" + s + "' (expected none|thompson|ucb)");
}

Objective parse_objective(const std::string& s) {
  if (s == "auto") return Objective::kAuto;
  if (s == "minutes") return Objective::kMinutes;
  if (s == "watch") return Objective::kWatch;
  if (s == "expected") return Objective::kExpected;
  throw ConfigError("objective",
                    "unknown objective '" + s + "' (expected auto|minutes|watch|expected)");
}

const char* to_string(Objective o) {
  switch (o) {
    case Objective::kAuto: return "auto";
    case Objective::kMinutes: return "minutes";
    case Objective::kWatch: return "watch";
    case Objective::kExpected: return "expected";
  }
  return "?";
}

Objective resolve_objective(Objective o, const Model& model) {
  if (o != Objective::kAuto) return o;
  return model.watch.present ? Objective::kWatch : Objective::kMinutes;
}

namespace {

// The expected value on the original scale of an entry whose model-scale value is N(mean, var).
double original_mean(double mean, double var, Transform t) {
  return t == Transform::kLog1p ? std::expm1(mean + 0.5 * var) : mean;
}

}  // namespace

std::vector<std::vector<Recommendation>> recommend(Backend& backend, const Model& model,
                                                   const std::vector<int32_t>& users,
                                                   const std::vector<std::vector<int32_t>>& seen,
                                                   const RecommendOptions& opt) {
  if (opt.k < 1) throw ConfigError("k", "must be at least 1, got " + std::to_string(opt.k));
  const Objective objective = resolve_objective(opt.objective, model);
  // The watch part is scored when it ranks the list, or when the caller's backend has it at hand
  // (Recommendation::watch); ranking by minutes alone makes no watch backend of its own.
  if (objective != Objective::kMinutes && !model.watch.present)
    throw ConfigError("objective", std::string("'") + to_string(objective) +
                                       "' needs a model with a watch part (this one has none)");
  const bool with_watch =
      model.watch.present && (objective != Objective::kMinutes || opt.watch != nullptr);
  // Without a watch backend from the caller, one is made on the CPU for this call.
  std::unique_ptr<Backend> own_watch;
  Backend* watch_backend = opt.watch;
  if (with_watch && watch_backend == nullptr) {
    own_watch = make_backend({DeviceSpec::kCpu, 0, 0});
    own_watch->load_model(watch_view(model));
    watch_backend = own_watch.get();
  }
  const Transform transform = model.config.transform;
  if (!opt.include_seen && seen.size() != users.size())
    throw Error("recommend: one seen list per user is needed");
  const size_t items = static_cast<size_t>(model.V.n);
  std::vector<int32_t> candidates = opt.candidates;
  if (candidates.empty()) {
    candidates.resize(items);
    for (size_t j = 0; j < items; ++j) candidates[j] = static_cast<int32_t>(j);
  }
  std::vector<std::vector<Recommendation>> out(users.size());
  // Blocks bound the dense score buffer to about 64 MB whatever the catalog size.
  const size_t block =
      std::max<size_t>(1, std::min<size_t>(1024, (size_t{8} << 20) / std::max<size_t>(items, 1)));
  std::vector<float> mean, var, wmean, wvar;
  for (size_t b0 = 0; b0 < users.size(); b0 += block) {
    const size_t b1 = std::min(users.size(), b0 + block);
    mean.resize((b1 - b0) * items);
    var.resize((b1 - b0) * items);
    backend.score_all_items(users.data() + b0, b1 - b0, mean.data(), var.data());
    if (with_watch) {
      wmean.resize((b1 - b0) * items);
      wvar.resize((b1 - b0) * items);
      watch_backend->score_all_items(users.data() + b0, b1 - b0, wmean.data(), wvar.data());
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (long u = static_cast<long>(b0); u < static_cast<long>(b1); ++u) {
      const float* m = &mean[(u - b0) * items];
      const float* v = &var[(u - b0) * items];
      const float* wm = with_watch ? &wmean[(u - b0) * items] : nullptr;
      const float* wv = with_watch ? &wvar[(u - b0) * items] : nullptr;
      Rng rng(opt.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(u));
      // Ranking scores over the catalog; -inf marks items that may not be recommended.
      thread_local std::vector<float> score;
      score.assign(items, -INFINITY);
      for (int32_t j : candidates) {
        // The value part: its mean function, optimistic (UCB) or drawn (Thompson: a draw of the
        // mean function, not of a noisy observation).
        const double f_var = std::max(0.0, static_cast<double>(v[j]) - model.sigma2);
        double value = m[j], watch = with_watch ? wm[j] : 0.0;
        if (opt.explore == Explore::kUcb) {
          value += opt.ucb_beta * std::sqrt(v[j]);
          if (with_watch) watch += opt.ucb_beta * std::sqrt(wv[j]);
        } else if (opt.explore == Explore::kThompson) {
          value += std::sqrt(f_var) * rng.normal();
          if (with_watch) watch += std::sqrt(wv[j]) * rng.normal();
        }
        switch (objective) {
          case Objective::kWatch:
            score[j] = static_cast<float>(watch);
            break;
          case Objective::kExpected: {
            // A drawn or optimistic mean function keeps only the noise's spread.
            const double spread = opt.explore == Explore::kNone ? v[j] : model.sigma2;
            score[j] = static_cast<float>(std::clamp(watch, 0.0, 1.0) *
                                          original_mean(value, spread, transform));
            break;
          }
          default:
            score[j] = static_cast<float>(value);
        }
      }
      if (!opt.include_seen)
        for (int32_t j : seen[u]) score[j] = -INFINITY;
      // Top k by a min-heap on (score, -item): one comparison per item once the heap is full.
      const auto better = [](const std::pair<float, int32_t>& a,
                             const std::pair<float, int32_t>& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      };
      thread_local std::vector<std::pair<float, int32_t>> heap;
      heap.clear();
      const size_t k = static_cast<size_t>(opt.k);
      for (size_t j = 0; j < items; ++j) {
        if (score[j] == -INFINITY) continue;
        const std::pair<float, int32_t> entry{score[j], static_cast<int32_t>(j)};
        if (heap.size() < k) {
          heap.push_back(entry);
          std::push_heap(heap.begin(), heap.end(), better);
        } else if (better(entry, heap.front())) {
          std::pop_heap(heap.begin(), heap.end(), better);
          heap.back() = entry;
          std::push_heap(heap.begin(), heap.end(), better);
        }
      }
      std::sort(heap.begin(), heap.end(), better);
      out[u].clear();
      for (const auto& [sc, j] : heap) {
        out[u].push_back({j, sc, m[j], v[j]});
        if (with_watch) {
          out[u].back().watch = wm[j];
          out[u].back().watch_var = wv[j];
        }
      }
    }
  }
  return out;
}

std::vector<std::vector<Recommendation>> recommend(Backend& backend, const Model& model,
                                                   const std::vector<std::string>& user_ids,
                                                   const RecommendOptions& opt) {
  const ResolvedUsers who = resolve_users(model, user_ids, opt.user_groups, opt.plain_prior);
  std::vector<std::vector<int32_t>> seen(who.index.size());
  for (size_t k = 0; k < seen.size(); ++k) {
    const ItemList s = seen_items_of(model, who.index[k]);
    seen[k].assign(s.begin(), s.end());
  }
  return recommend(backend, model, who.index, seen, opt);
}

}  // namespace ppmf

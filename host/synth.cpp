// AVOD-like synthetic data from the model's own generative process (see synth.hpp).
#include "ppmf/synth.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "ppmf/common.hpp"
#include "ppmf/csv_writer.hpp"
#include "ppmf/split.hpp"

namespace ppmf {
namespace {

std::string padded_id(char prefix, int i, int width) {
  std::string digits = std::to_string(i);
  return std::string(1, prefix) +
         std::string(std::max(0, width - static_cast<int>(digits.size())), '0') + digits;
}

// Views per user: new users 1-3, heavy users log-normal around 150, the rest geometric around 12.
int draw_views(Rng& rng, const SynthConfig& c) {
  const double u = rng.uniform();
  if (u < c.new_user_frac) return 1 + static_cast<int>(rng.below(3));
  if (u < c.new_user_frac + c.heavy_user_frac)
    return static_cast<int>(std::exp(std::log(150.0) + 0.8 * rng.normal())) + 20;
  return 4 + static_cast<int>(-std::log(1.0 - rng.uniform()) * 8.0);
}

}  // namespace

SynthData generate_synth(const SynthConfig& c) {
  if (c.users < 1 || c.items < 2 || c.rank < 1 || c.channels < 1 || c.genres < 1)
    throw Error("synth needs at least 1 user, 2 items, rank 1, 1 channel and 1 genre");
  Rng rng(c.seed);
  const int d = c.rank;
  // Group-level parameters: channels and genres differ in mean taste and engagement.
  const double factor_sd = 0.45, group_sd = 0.35, bias_sd = 0.4;
  std::vector<double> channel_mean(static_cast<size_t>(c.channels) * d),
      genre_mean(static_cast<size_t>(c.genres) * d);
  std::vector<double> channel_bias(c.channels), genre_bias(c.genres);
  for (auto& x : channel_mean) x = group_sd * rng.normal();
  for (auto& x : genre_mean) x = group_sd * rng.normal();
  for (auto& x : channel_bias) x = 0.3 * rng.normal();
  for (auto& x : genre_bias) x = 0.3 * rng.normal();

  SynthData out;
  std::vector<int> user_channel(c.users), item_genre(c.items);
  std::vector<double> U(static_cast<size_t>(c.users) * d), V(static_cast<size_t>(c.items) * d);
  std::vector<double> alpha(c.users), beta(c.items);
  for (int i = 0; i < c.users; ++i) {
    const std::string id = padded_id('u', i, 7);
    // Channels differ in size: the first ones bring most users.
    user_channel[i] = std::min(c.channels - 1,
                               static_cast<int>(-std::log(1.0 - rng.uniform()) * c.channels / 3.0));
    out.ratings.users.insert(id);
    out.user_groups[id] = padded_id('c', user_channel[i], 2);
    for (int k = 0; k < d; ++k)
      U[static_cast<size_t>(i) * d + k] =
          channel_mean[static_cast<size_t>(user_channel[i]) * d + k] + factor_sd * rng.normal();
    alpha[i] = channel_bias[user_channel[i]] + bias_sd * rng.normal();
  }
  // Popularity: a random permutation of ranks, weight 1/rank^s; popular videos are a bit better.
  std::vector<int> pop_rank(c.items);
  std::iota(pop_rank.begin(), pop_rank.end(), 1);
  for (size_t k = pop_rank.size(); k > 1; --k) std::swap(pop_rank[k - 1], pop_rank[rng.below(k)]);
  std::vector<double> cumulative(c.items);
  double total = 0;
  for (int j = 0; j < c.items; ++j) {
    const std::string id = padded_id('v', j, 6);
    item_genre[j] = static_cast<int>(rng.below(c.genres));
    out.ratings.items.insert(id);
    out.item_groups[id] = padded_id('g', item_genre[j], 2);
    for (int k = 0; k < d; ++k)
      V[static_cast<size_t>(j) * d + k] =
          genre_mean[static_cast<size_t>(item_genre[j]) * d + k] + factor_sd * rng.normal();
    beta[j] = genre_bias[item_genre[j]] + bias_sd * rng.normal() - 0.1 * std::log(pop_rank[j]);
    total += 1.0 / std::pow(pop_rank[j], c.popularity_exponent);
    cumulative[j] = total;
  }
  const double mu0 = std::log1p(12.0);  // typical session: about 12 minutes
  const auto taste = [&](int i, int j) {
    double t = 0;
    for (int k = 0; k < d; ++k)
      t += U[static_cast<size_t>(i) * d + k] * V[static_cast<size_t>(j) * d + k];
    return t / std::sqrt(d);
  };
  std::unordered_set<int> seen;
  std::vector<double> own(c.taste_exposure > 0 ? c.items : 0);  // this user's cumulative weights
  for (int i = 0; i < c.users; ++i) {
    const int views = std::min(draw_views(rng, c), c.items / 2);
    const std::vector<double>* weights = &cumulative;
    double user_total = total;
    if (c.taste_exposure > 0) {
      user_total = 0;
      for (int j = 0; j < c.items; ++j) {
        user_total += (cumulative[j] - (j > 0 ? cumulative[j - 1] : 0.0)) *
                      std::exp(c.taste_exposure * taste(i, j));
        own[j] = user_total;
      }
      weights = &own;
    }
    seen.clear();
    for (int v = 0; v < views; ++v) {
      int j;
      do {
        j = static_cast<int>(
            std::lower_bound(weights->begin(), weights->end(), rng.uniform() * user_total) -
            weights->begin());
        j = std::min(j, c.items - 1);
      } while (!seen.insert(j).second);
      const double mean = mu0 + alpha[i] + beta[j] + taste(i, j);
      const double y = mean + c.noise_sd * rng.normal();
      const double minutes = std::round(std::max(0.0, std::expm1(y)) * 10.0) / 10.0;
      out.ratings.push(i, j, static_cast<float>(minutes));
      out.true_mean.push_back(static_cast<float>(mean));
    }
  }
  return out;
}

void write_synth(const SynthData& data, const std::string& dir) {
  ensure_directory(dir);
  const Ratings& r = data.ratings;
  write_ratings_csv(r, dir + "/ratings.csv", "user,video,minutes");
  write_ratings_csv(r, dir + "/truth.csv", "user,video,true_mean_log1p", &data.true_mean);
  // Group files in id order, so the output is reproducible byte for byte.
  for (const auto& [name, ids, groups, header] :
       {std::make_tuple("/user_groups.csv", &r.users, &data.user_groups, "user,group\n"),
        std::make_tuple("/item_groups.csv", &r.items, &data.item_groups, "video,group\n")}) {
    CsvWriter w(dir + name);
    w.write(header);
    for (size_t i = 0; i < ids->size(); ++i) {
      const std::string id(ids->name(static_cast<int32_t>(i)));
      w.field(id).sep().field(groups->at(id)).end_line();
    }
    w.close();
  }
}

}  // namespace ppmf

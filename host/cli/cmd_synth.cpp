// ppmf-gpu synth: write an AVOD-like data set.
#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/synth.hpp"

namespace ppmf::cli {

int cmd_synth(int argc, char** argv) {
  const SynthConfig d;
  Args args("synth", "--out DIR [options]",
            "Generates AVOD-like watch data from the pooled model: users in acquisition channels, "
            "videos\n"
            "in genres, most users new (1-3 views), Zipf-like popularity, minutes watched. Writes\n"
            "DIR/ratings.csv (user,video,minutes), DIR/user_groups.csv, DIR/item_groups.csv and\n"
            "DIR/truth.csv (the noise-free mean of log1p(minutes) of every entry).");
  args.option("out", "", "output directory", "DIR")
      .option("users", num(d.users), "number of users", "N")
      .option("items", num(d.items), "number of videos", "N")
      .option("rank", num(d.rank), "true rank", "D")
      .option("channels", num(d.channels), "user acquisition channels (user groups)", "N")
      .option("genres", num(d.genres), "video genres (item groups)", "N")
      .option("new-user-frac", num(d.new_user_frac), "fraction of users with 1-3 views", "F")
      .option("noise-sd", num(d.noise_sd), "noise sd on the log1p(minutes) scale", "X")
      .option("taste-exposure", num(d.taste_exposure),
              "which videos users start: 0 = by popularity alone; S > 0 = popularity x\n"
              "                            exp(S x the user's taste for the video)",
              "S")
      .option("seed", num(static_cast<double>(d.seed)), "random seed", "S");
  if (!args.parse(argc, argv)) return 0;
  if (!args.given("out")) throw Error("synth needs --out DIR");
  SynthConfig c;
  c.users = static_cast<int>(args.integer("users", 1, 100000000));
  c.items = static_cast<int>(args.integer("items", 2, 100000000));
  c.rank = static_cast<int>(args.integer("rank", 1, 256));
  c.channels = static_cast<int>(args.integer("channels", 1, 10000));
  c.genres = static_cast<int>(args.integer("genres", 1, 10000));
  c.new_user_frac = args.real("new-user-frac", 0, 1 - d.heavy_user_frac);
  c.noise_sd = args.real("noise-sd", 0, 10);
  c.taste_exposure = args.real("taste-exposure", 0, 20);
  c.seed = static_cast<uint64_t>(args.integer("seed", 0, 1LL << 62));
  const SynthData data = generate_synth(c);
  write_synth(data, args.str("out"));
  std::printf("wrote %s: %zu views by %d users of %d videos (density %.4f%%)\n",
              args.str("out").c_str(), data.ratings.size(), c.users, c.items,
              100.0 * data.ratings.size() / (double(c.users) * c.items));
  return 0;
}

}  // namespace ppmf::cli

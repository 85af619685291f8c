// Trains a small pooled model on generated data through the installed public API, scores it on a
// held-out split and prints the evaluation JSON: what a C++ pipeline calling libppmf would do.
#include <cstdio>

#include "ppmf/backend.hpp"
#include "ppmf/evaluate.hpp"
#include "ppmf/json.hpp"
#include "ppmf/scheduler.hpp"
#include "ppmf/split.hpp"
#include "ppmf/synth.hpp"

int main() {
  try {
    ppmf::SynthConfig sc;
    sc.users = 2000;
    sc.items = 300;
    const ppmf::SynthData data = ppmf::generate_synth(sc);
    const ppmf::Split split = ppmf::split_random(data.ratings, 0.1, 1);
    ppmf::ModelConfig mc;
    mc.rank = 4;
    mc.transform = ppmf::Transform::kLog1p;
    ppmf::TrainConfig tc;
    tc.epochs = 5;
    ppmf::TrainInputs in;
    in.train = &split.train;
    in.user_groups = &data.user_groups;
    in.item_groups = &data.item_groups;
    auto backend = ppmf::make_backend(ppmf::parse_device("cpu"));
    const ppmf::TrainResult r = ppmf::train(in, mc, tc, *backend);
    backend->load_model(r.model);
    ppmf::EvalOptions opt;
    opt.user_groups = &data.user_groups;
    opt.item_groups = &data.item_groups;
    std::fputs(ppmf::to_json(ppmf::evaluate(*backend, r.model, split.test, opt)).c_str(), stdout);
    return 0;
  } catch (const ppmf::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}

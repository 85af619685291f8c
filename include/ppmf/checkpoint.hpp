// Checkpoints: a training run between two epochs, saved so that `train` can continue it
// (TrainConfig::checkpoint writes one, TrainInputs::resume_from continues from one) and end with
// the same model, bit for bit on the CPU, as the run that was never interrupted. The file has the
// model file's container (magic "PPMFCKPT", version, length, CRC-32; written atomically, verified
// on load) and is encoded beside it, in host/model_file.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ppmf/config.hpp"
#include "ppmf/model.hpp"

namespace ppmf {

constexpr uint32_t kCheckpointFormatVersion = 2;  // 2: the watch model's settings

// Where a run stands after an epoch, besides its model.
struct RunPosition {
  uint64_t fingerprint = 0;  // of the run's data and settings (see train): resume refuses others
  ModelConfig model_config;
  TrainConfig train_config;
  int phase = 0;             // 0: the run that chooses the number of epochs (or the only run)
                             // 1: the refit on all entries
  int phase_epochs = 0;      // epochs of this phase completed
  int refit_epochs = 0;      // phase 1: how many it runs (the epoch phase 0 chose)
  std::vector<double> valid_nll;  // phase 0: the validation NLL of each epoch
  int best_epoch = 0;        // phase 0: the epoch of least validation NLL so far (0: none)
  bool stopped_early = false;
};

struct Checkpoint {
  RunPosition position;
  Model model;         // after the position's last epoch, with the history so far
  bool has_best = false;
  Model best;          // phase 0: the model of best_epoch, when that is not the last epoch
};

// `best` may be null (no best epoch apart from the last).
void save_checkpoint(const std::string& path, const RunPosition& position, const Model& model,
                     const Model* best);
Checkpoint load_checkpoint(const std::string& path);
Checkpoint parse_checkpoint(const std::string& name, const std::string& file);  // from memory

}  // namespace ppmf

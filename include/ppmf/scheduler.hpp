// The training loop, once for every backend: epochs of exact sweeps (every user row, then every
// item row, each set to its exact conditional posterior), the pooling and noise updates, the
// validation split and early stopping with restore of the best epoch, the refit, and held-out
// reporting; callers follow it through TrainCallbacks.
#pragma once

#include <functional>
#include <string>

#include "ppmf/backend.hpp"
#include "ppmf/comm.hpp"
#include "ppmf/config.hpp"
#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

struct TrainInputs {
  const Ratings* train = nullptr;  // raw values (the model's transform is applied here)
  const Ratings* test = nullptr;   // optional held-out entries, raw values, any ids: reported only
  const GroupFile* user_groups = nullptr;
  const GroupFile* item_groups = nullptr;
  // Start from this model: known users and items from their posteriors, new ones from their group
  // prior, hyperparameters and noise as the starting point. Its watch part, when it has one of
  // the watch rank asked for, starts the watch part, with its weights where the run's are 0 (one
  // given: the other keeps the old ratio).
  const Model* warm_start = nullptr;
  // Continue the run saved in this checkpoint (checkpoint.hpp) instead of starting one; the data,
  // group files, warm start and settings must be those of the run that wrote it.
  std::string resume_from;
  // Distributed training (null: this process alone). Every rank calls train() with the same
  // settings, group files and warm start, and with `train` and `test` holding the entries of the
  // users it owns (distributed.hpp: read_distributed). Users are solved where they live; each
  // item's statistics are summed over the ranks in rank order, each rank solves a slice of the
  // items and shares it; pooling and noise sums are taken over every rank, so every rank holds
  // the same hyperparameters; the model is gathered on rank 0 (others get their own users only).
  // Checkpoints are one file per rank (PATH.rank-R-of-P) when P > 1. With one rank, the same
  // model bit for bit as without a Comm.
  Comm* comm = nullptr;
};

// Builds the initial model of a compacted training table: ids, groups, counts, mu0, sigma^2 and a
// random guide.
Model init_model(const Ratings& train_compact, const std::vector<float>& model_values,
                 const ModelConfig& config, const GroupFile* user_groups,
                 const GroupFile* item_groups, uint64_t seed);

// Moves `old`'s posteriors and hyperparameters into `fresh` (a model from init_model) by id and
// group name; see TrainInputs::warm_start. Throws if rank or transform differ.
void warm_start_from(const Model& old, Model& fresh);

// How a caller follows (and stops) training; the library itself prints nothing. Every member is
// optional and called on the training thread.
struct TrainCallbacks {
  // After every epoch, with its validation and test scores.
  std::function<void(const EpochMetrics&)> on_epoch;
  // One line on a decision the run made ("early stop: ...", "refit: ...").
  std::function<void(const std::string&)> on_note;
  // Rows solved so far in the epoch, between ranges of rows (every 65,536): for progress bars.
  std::function<void(int epoch, size_t rows_done, size_t rows_total)> on_progress;
  // Polled as often as on_progress; true stops training with Cancelled (as does the process-wide
  // request of cancel.hpp).
  std::function<bool()> cancelled;
};

struct TrainReport {
  std::string device;        // the backend's name
  size_t train_entries = 0;  // entries the kept model was trained on (all given, after a refit)
  size_t valid_entries = 0;  // held back to choose the number of epochs (0: no validation)
  size_t test_entries = 0;   // TrainInputs::test, reported only
  int epochs_run = 0;        // all epochs, the refit's included (= model.history.size())
  int chosen_epoch = 0;      // the epoch of best validation NLL (0: no validation)
  bool stopped_early = false;
  bool refit = false;        // the kept model was trained again on all entries for chosen_epoch epochs
  EpochMetrics chosen;       // the chosen epoch's metrics (has_valid) when there was validation
  EpochMetrics kept;         // the kept model's epoch (model.history[model.best_epoch - 1])
  std::string watch_device;  // where the watch part trained ("": it was off)
  double watch_seconds = 0;  // its share of `seconds`
  // A distributed run (TrainInputs::comm): its ranks and transport, and this rank's traffic in
  // the value part's epochs (sweeps, sums, held-out scores; not the reading or the gather).
  int ranks = 1;
  std::string transport;
  CommStats epoch_comm;
  int comm_epochs = 0;       // epochs epoch_comm covers
  double seconds = 0;        // wall time of the whole call
};

struct TrainResult {
  Model model;
  TrainReport report;
};

// One line on an epoch, as the CLI and the Python package print it:
// "epoch   3  elbo/entry  -1.2345  train_rmse 0.8123  valid_rmse ...  sigma 0.9012  1.23M entries/s  0.45s".
std::string format_epoch(const EpochMetrics& e);

// Trains a model of inputs.train (see TrainConfig for validation, early stopping and the refit).
// Throws ConfigError for settings out of range, Error for unusable data, Cancelled on request.
TrainResult train(const TrainInputs& inputs, const ModelConfig& config,
                  const TrainConfig& train_config, Backend& backend,
                  const TrainCallbacks& callbacks = {});

// One epoch on a loaded backend: the user sweep and the item sweep (each followed by its pooling
// update when the model pools), then a full pass and the noise update; `model` carries the priors
// and noise and receives the new ones. Returns the epoch's training metrics (ELBO, train RMSE,
// sigma, speed); `progress(done, total)` is called between row ranges.
using SweepProgress = std::function<void(size_t rows_done, size_t rows_total)>;
EpochMetrics run_epoch(Backend& backend, Model& model, const TrainConfig& train_config,
                       const SweepProgress& progress = {}, Comm* comm = nullptr);

}  // namespace ppmf

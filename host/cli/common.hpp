// Pieces shared by the subcommands: data-reading options, group files, device selection.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/args.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/comm.hpp"
#include "ppmf/config.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/reader.hpp"

namespace ppmf::cli {

// A default value as --help prints it (shortest form).
std::string num(double v);

// The ranks of this run when an MPI launcher started it (main opens the session), else null;
// `local_rank`: this rank's index among the ranks on its node.
Comm* run_comm();
void set_run_comm(Comm* comm, int local_rank = 0);
// In a run of several processes, only rank 0 prints progress and results.
bool is_rank_zero();

void add_read_options(Args& args, bool need_value);
ReadOptions read_options(const Args& args, bool need_value, const std::string& time_column = "");
// `paths`: one file, or a comma-separated list of files and glob patterns (distributed.hpp).
Ratings load_table(const Args& args, const std::string& paths, bool need_value,
                   const std::string& time_column = "");

void add_group_options(Args& args, const std::string& when);
std::optional<GroupFile> load_groups(const Args& args, const std::string& option);
inline const GroupFile* ptr(const std::optional<GroupFile>& g) {
  return g ? &*g : nullptr;
}

// Model and training settings shared by train and eval's given-n protocol.
void add_training_options(Args& args, const std::string& default_transform);
// Both validated (ConfigError names the field; main shows it as the flag).
ModelConfig model_config_from(const Args& args);
TrainConfig train_config_from(const Args& args);
uint64_t seed_from(const Args& args);

// --plain-prior: new users start from their group's plain prior mean, not the size-biased one.
void add_new_user_options(Args& args);
FoldInOptions fold_in_options(const Args& args);

void add_device_options(Args& args, const std::string& default_device);
// The backend of --device and --threads; a note on stderr when "auto" passes over an unusable GPU.
// Under mpirun, "auto" gives rank r the GPU (local rank r) mod (the node's GPUs), or the CPU
// where there is none.
std::unique_ptr<Backend> open_backend(const Args& args);
std::unique_ptr<Backend> open_backend(const DeviceSpec& device);
// The device --device and --threads ask for. "auto" is resolved to a GPU (this rank's: local rank
// mod the GPUs) or the CPU under mpirun, or when `resolve_auto`; else left to make_backend.
DeviceSpec device_spec(const Args& args, bool resolve_auto = false);

// Refuses, before any work, an output option naming the same file as an input option or as
// another output ("" and "-" are skipped); `may_replace` lists (input, output) option pairs that
// may: the input is read whole before the output is written atomically. Options by name
// ("data"; "split-out/train.csv" names a file in the DIR of --split-out).
void check_paths(const Args& args, const std::vector<std::string>& inputs,
                 const std::vector<std::string>& outputs,
                 const std::vector<std::pair<std::string, std::string>>& may_replace = {});

// A backend of --device loaded with the model's watch part (watch_view), or null without one.
std::unique_ptr<Backend> open_watch_backend(const Args& args, const Model& model);
// --objective (recommend.hpp's Objective).
void add_objective_option(Args& args);

// The flag of a library setting: "prec_a0" -> "--prec-a0" (ConfigError::field).
std::string flag_of(const std::string& field);

// The subcommands; each returns the process exit code.
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_predict(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_devices(int argc, char** argv);
int cmd_foldin(int argc, char** argv);
int cmd_recommend(int argc, char** argv);
int cmd_bench(int argc, char** argv);

}  // namespace ppmf::cli

// Output files that cannot destroy the user's data: every output is written under a temporary name
// beside its target and renamed over it only when complete (so an interrupted or failed run leaves
// the old file or none, never a partial one), and no output may name an input file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ppmf {

// Whether two paths name the same file: the same device and inode when both exist (so hard and
// symbolic links and "./x" against "x" count), else the same normalised path.
bool same_file(const std::string& a, const std::string& b);

// A file a command reads or writes, by the name the front end knows it by ("--data", "out=").
struct PathRole {
  std::string role;
  std::string path;  // "" (not given) and "-" (stdout) are never checked
};

// Throws Error, before any work is done, when an output names the same file as an input, or two
// outputs the same file; `may_replace` lists the (input role, output role) pairs that may name the
// same file (replacing a model in place: the input is read whole before the output is written).
void check_distinct_paths(const std::vector<PathRole>& inputs,
                          const std::vector<PathRole>& outputs,
                          const std::vector<std::pair<std::string, std::string>>& may_replace = {});

// What commit() does when cancellation was requested (cancel.hpp): an interrupted command leaves
// no new output, except the checkpoint that says how far training got.
enum class OnCancel { kDiscard, kCommit };

// A file written under a temporary name ("PATH.tmp.PID.N") and renamed over PATH by commit(),
// after fsync of the file and then of its directory, so a crash leaves either the old file or the
// new one. Destroyed without commit() (an error, an interruption), it removes the temporary file.
// The temporary name is registered so that an immediate exit on a second Ctrl-C removes it too
// (remove_pending_temp_files).
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view data);  // throws Error naming PATH on failure
  // Throws Cancelled (and removes the temporary file) when cancellation was requested, unless
  // told to commit anyway.
  void commit(OnCancel on_cancel = OnCancel::kDiscard);
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  int slot_ = -1;  // in the registry of temporary files
  void discard() noexcept;
};

// Writes `data` to `path` through an AtomicFile.
void write_atomically(const std::string& path, std::string_view data,
                      OnCancel on_cancel = OnCancel::kDiscard);

// Unlinks every temporary file of an AtomicFile that has not been committed or discarded yet.
// Async-signal-safe: for a signal handler that is about to _exit.
void remove_pending_temp_files() noexcept;

// Creates directory `dir` unless it exists.
void ensure_directory(const std::string& dir);

}  // namespace ppmf

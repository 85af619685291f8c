// The processes of one distributed training run (MPI ranks) and the few collective operations
// training needs: ordered sums, slice exchanges, gathers. One implementation per transport
// (MPI in host/comm_mpi.cpp; threads in the tests); the ordering, the chunking and the failure
// agreement live here, once.
//
// Every collective must be called by every rank in the same order. Each one starts with an
// agreement on whether some rank has failed, so a rank that meets bad input, runs out of memory or
// is interrupted calls fail() and every rank leaves its next collective with the same
// RemoteFailure ("rank 2: reason") instead of waiting forever.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ppmf/common.hpp"

namespace ppmf {

// Thrown on every rank of a run where a rank failed; what() is "rank R: its reason".
class RemoteFailure : public Error {
 public:
  RemoteFailure(int rank, const std::string& reason)
      : Error("rank " + std::to_string(rank) + ": " + reason), rank_(rank) {}
  int rank() const { return rank_; }

 private:
  int rank_;
};

// Traffic of this rank so far (for benchmarks and per-epoch reports).
struct CommStats {
  double seconds = 0;   // wall time inside collectives (waiting included)
  double wait_seconds = 0;  // of which in the agreements that open them: waiting for the slowest rank
  uint64_t bytes = 0;   // bytes this rank sent to other ranks
  uint64_t calls = 0;   // collectives
};

class Comm {
 public:
  virtual ~Comm() = default;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // "mpi", "threads", "single process".
  virtual std::string transport() const = 0;

  // Element-wise sum over the ranks of data[0..n), in place: the terms are added in rank order
  // 0, 1, ..., P-1 whatever the timing, so every rank receives the same bits, run after run.
  void sum(double* data, size_t n);
  template <class T>
  void sum(std::vector<T>& v) {
    static_assert(sizeof(T) == sizeof(double));
    sum(reinterpret_cast<double*>(v.data()), v.size());
  }
  // Reduce-scatter: slice r = [cut[r], cut[r+1]) of data (cut has P + 1 entries from 0 to n) ends
  // on rank r as the rank-order sum of every rank's slice r. The other slices are left as they
  // were. Moves (P - 1) / P of the data per rank, half of sum()'s.
  void sum_slices(double* data, const std::vector<size_t>& cut);
  // All-gather in place: every rank's own slice [cut[rank], cut[rank+1]) of data (elements of
  // `elem` bytes) is copied into the same slice on every other rank.
  void share_slices(void* data, size_t elem, const std::vector<size_t>& cut);
  // Every rank's bytes, in rank order.
  std::vector<std::string> all_gather(const std::string& mine);
  // to[r] is sent to rank r; returns what each rank sent to this one, in rank order.
  std::vector<std::string> all_to_all(std::vector<std::string> to);
  // The bytes of rank `root`, on every rank.
  std::string broadcast(const std::string& bytes, int root);
  // Agreement on a value: the minimum over the ranks.
  int64_t min(int64_t v);

  // This rank cannot go on: every rank, this one included, leaves its next collective with
  // RemoteFailure(this rank, reason). Call it from the handler of the error, on every rank that
  // fails (the lowest failing rank's reason is the one reported).
  [[noreturn]] void fail(const std::string& reason);
  // The last collective of a run: throws RemoteFailure if any rank failed before reaching it.
  void finish() { agree(nullptr); }

  const CommStats& stats() const { return stats_; }

  // Bytes in memory, to send (ConstSpan) or to receive into (Span): the transport's messages.
  struct ConstSpan {
    const void* data = nullptr;
    size_t size = 0;
  };
  struct Span {
    void* data = nullptr;
    size_t size = 0;
  };

  // Even cut of n elements into P slices (the first n % P slices one larger).
  std::vector<size_t> even_cut(size_t n) const;

 protected:
  Comm(int rank, int size) : rank_(rank), size_(size) {}

  // The transport. min_raw: the minimum of v over the ranks. exchange_raw: to[r] goes to rank r
  // and rank r's bytes arrive in into[r], whose size both sides know already (entries for this
  // rank are ignored); no copy beyond the transport's own. broadcast_raw: root's bytes everywhere.
  virtual int64_t min_raw(int64_t v) = 0;
  virtual void exchange_raw(const std::vector<ConstSpan>& to, const std::vector<Span>& into) = 0;
  virtual std::string broadcast_raw(const std::string& bytes, int root) = 0;

 private:
  class Timer;
  // Throws RemoteFailure when some rank failed (`failure`: this rank's own reason, if it did).
  void agree(const std::string* failure);

  // Sizes first, then the bytes: all_to_all and all_gather.
  std::vector<std::string> exchange_strings(const std::vector<ConstSpan>& to);

  int rank_, size_;
  CommStats stats_;
  std::vector<double> received_;  // sum_slices' incoming slices, kept between calls
};

// A run of one process: every collective is the identity (and costs nothing).
std::unique_ptr<Comm> single_process_comm();

// NCCL between the ranks' GPUs (this rank's: `gpu`), through the CUDA plugin, its communicator set
// up over `bootstrap` (collective on it; null: a one-rank communicator, no MPI needed). Throws
// Error when the plugin has no NCCL (built without it) or NCCL cannot start.
std::unique_ptr<Comm> make_nccl_comm(int gpu, Comm* bootstrap);

}  // namespace ppmf

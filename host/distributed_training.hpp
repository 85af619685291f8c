// The pieces of distributed training the scheduler calls (see distributed.hpp for the data side):
// agreeing on item ids and group names, global counts, and gathering the model on rank 0.
#pragma once

#include <string>
#include <vector>

#include "ppmf/comm.hpp"
#include "ppmf/model.hpp"
#include "ppmf/ratings.hpp"

namespace ppmf {

// Runs f(); an exception other than RemoteFailure becomes comm.fail(its message), so every rank
// learns of it at its next collective.
template <class F>
auto on_every_rank(Comm& comm, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const RemoteFailure&) {
    throw;
  } catch (const std::bad_alloc&) {
    comm.fail("out of memory");
  } catch (const std::exception& e) {
    comm.fail(e.what());
  }
}

// compact() of this rank's entries, with the item ids of every rank: items in order of first
// appearance on rank 0, then the new ones of rank 1, ... (with one rank, compact() itself).
Ratings compact_across(const Ratings& local, Comm& comm);

// Group names as the union over the ranks, sorted (as make_groups sorts them); `g.of` renumbered.
void agree_groups(Groups& g, Comm& comm);

// Element-wise sums of integer counts over the ranks.
std::vector<int32_t> sum_counts(const std::vector<int32_t>& local, Comm& comm);

// The whole model on `root`: its users, then every other rank's in rank order (guides, counts,
// groups, seen lists, watch rows); priors, noise and history are the same everywhere. Other
// ranks keep `local`.
Model gather_model(Model local, Comm& comm, int root = 0);

}  // namespace ppmf

// Distributed training's data and model: a rank owns the users whose id hashes to it, reads a
// disjoint share of the input files and sends every entry to its user's owner; item ids are agreed
// on by every rank; at the end rank 0 gathers the one model file's worth of rows. The training loop
// itself is scheduler.hpp's, given a Comm (TrainInputs::comm).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ppmf/comm.hpp"
#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

// The rank that owns a user id among `ranks`: a hash of the id, so it depends on nothing else.
int owner_of(std::string_view user_id, int ranks);

// The files of a --data value: a comma-separated list of paths and glob patterns, each pattern's
// matches sorted by name. Throws when a pattern matches nothing.
std::vector<std::string> expand_data_paths(const std::string& spec);

// The entries of `all` whose users `comm`'s rank owns (in input order): a table every rank
// holds whole (generated data), cut as read_distributed would cut it.
Ratings owned_entries(const Ratings& all, const Comm& comm);

// Every entry of `files`, in file order, with repeated (user, item) entries merged across files
// by opts.duplicates (one file: read_ratings). `report` sums the files' reports.
Ratings read_tables(const std::vector<std::string>& files, const ReadOptions& opts,
                    ReadReport* report = nullptr);

// This rank's users' entries of `files`, in the order read_tables would list them, repeats
// merged as read_tables merges them: rank 0's list of files and their sizes is the one used (the
// ranks may see the file system differently), each rank reads a disjoint share of the files (by
// size, largest first, to the rank with the fewest bytes so far) and sends each entry to its
// user's owner. With one rank, exactly read_tables. Collective; a rank that cannot read its
// files makes every rank throw RemoteFailure, as does, with `every_rank_needs_entries`, a rank
// left without entries. `report` is this rank's share of the reading (lines and bad lines of
// its files; repeats merged among its users).
Ratings read_distributed(Comm& comm, const std::vector<std::string>& files, const ReadOptions& opts,
                         ReadReport* report = nullptr, bool every_rank_needs_entries = true);

}  // namespace ppmf

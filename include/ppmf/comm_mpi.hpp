// The MPI transport of comm.hpp (library ppmf_mpi, built when CMake finds MPI and PPMF_WITH_MPI
// is on). A program launched by mpirun (or another MPI launcher) opens an MpiSession for its
// lifetime and trains with its communicator; without a launcher nothing here is called, so a
// plain run pays nothing for MPI.
#pragma once

#include <memory>

#include "ppmf/comm.hpp"

namespace ppmf {

// True when an MPI launcher started this process (its rank variables are set).
bool launched_by_mpi();

// MPI_Init_thread (funneled: only the thread that opened the session calls MPI) and, at the end
// of the session's life, MPI_Finalize. One per process.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  // MPI_COMM_WORLD as a Comm (errors returned, checked and thrown as Error naming the call).
  Comm& world() { return *world_; }
  // This rank's index among the ranks on its node (for choosing a GPU: local rank mod GPUs).
  int local_rank() const { return local_rank_; }

 private:
  std::unique_ptr<Comm> world_;
  int local_rank_ = 0;
};

}  // namespace ppmf

// A transport of comm.hpp between threads of one process, for testing distributed code without
// MPI: run_ranks(P, body) runs body(comm) for P ranks on P threads and returns what each threw.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ppmf/comm.hpp"

namespace ppmf::testing {

class ThreadHub {
 public:
  explicit ThreadHub(int size) : spans_(size), mins_(size), size_(size) {}
  int size() const { return size_; }

  void barrier() {
    std::unique_lock<std::mutex> lock(m_);
    const unsigned long gen = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }
  std::vector<std::vector<Comm::ConstSpan>> spans_;  // spans_[from][to]
  std::vector<int64_t> mins_;
  std::string broadcast_;

 private:
  int size_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  unsigned long generation_ = 0;
};

class ThreadComm final : public Comm {
 public:
  ThreadComm(ThreadHub& hub, int rank) : Comm(rank, hub.size()), hub_(hub) {}
  std::string transport() const override { return "threads"; }

 protected:
  int64_t min_raw(int64_t v) override {
    hub_.mins_[rank()] = v;
    hub_.barrier();
    int64_t m = v;
    for (const int64_t x : hub_.mins_) m = std::min(m, x);
    hub_.barrier();
    return m;
  }
  void exchange_raw(const std::vector<ConstSpan>& to, const std::vector<Span>& into) override {
    hub_.spans_[rank()] = to;
    hub_.barrier();
    bool wrong_size = false;
    for (int r = 0; r < size(); ++r) {
      if (r == rank()) continue;
      const ConstSpan& in = hub_.spans_[r][rank()];
      wrong_size = wrong_size || in.size != into[r].size;
      if (in.size > 0 && in.size == into[r].size) std::memcpy(into[r].data, in.data, in.size);
    }
    hub_.barrier();  // before throwing, so no rank is left waiting
    if (wrong_size) throw Error("thread transport: a message of the wrong size");
  }
  std::string broadcast_raw(const std::string& bytes, int root) override {
    if (rank() == root) hub_.broadcast_ = bytes;
    hub_.barrier();
    std::string out = hub_.broadcast_;
    hub_.barrier();
    return out;
  }

 private:
  ThreadHub& hub_;
};

// Runs body on P ranks (threads); returns each rank's exception (null where it returned).
inline std::vector<std::exception_ptr> run_ranks(int size,
                                                 const std::function<void(Comm&)>& body) {
  ThreadHub hub(size);
  std::vector<std::exception_ptr> errors(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      ThreadComm comm(hub, r);
      try {
        body(comm);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

}  // namespace ppmf::testing

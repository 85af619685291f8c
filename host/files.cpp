// Atomic outputs, the registry of their temporary files, and the output-onto-input check.
#include "ppmf/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "ppmf/cancel.hpp"
#include "ppmf/common.hpp"

namespace ppmf {
namespace {

// Temporary names of uncommitted AtomicFiles, in fixed slots so a signal handler can walk them
// without locks or allocation. A slot is claimed by a compare-exchange on its state; a process
// with more simultaneous outputs than slots writes the extra ones unregistered.
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[PATH_MAX];
};
constexpr int kSlots = 16;
TempSlot g_slots[kSlots];

int register_temp(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int s = 0; s < kSlots; ++s) {
    int free = 0;
    if (!g_slots[s].state.compare_exchange_strong(free, 1)) continue;
    std::memcpy(g_slots[s].path, path.c_str(), path.size() + 1);
    g_slots[s].state.store(2);
    return s;
  }
  return -1;
}

void release_temp(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0);
}

std::string error_text(int err) {
  return std::strerror(err != 0 ? err : EIO);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::atomic<unsigned> g_counter{0};

}  // namespace

void remove_pending_temp_files() noexcept {
  for (TempSlot& s : g_slots)
    if (s.state.load() == 2) unlink(s.path);
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  const bool ea = ::stat(a.c_str(), &sa) == 0, eb = ::stat(b.c_str(), &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return false;
  std::error_code ec;
  const auto ca = std::filesystem::weakly_canonical(a, ec);
  if (ec) return a == b;
  const auto cb = std::filesystem::weakly_canonical(b, ec);
  if (ec) return a == b;
  return ca == cb;
}

void check_distinct_paths(const std::vector<PathRole>& inputs,
                          const std::vector<PathRole>& outputs,
                          const std::vector<std::pair<std::string, std::string>>& may_replace) {
  const auto checked = [](const PathRole& p) { return !p.path.empty() && p.path != "-"; };
  for (size_t o = 0; o < outputs.size(); ++o) {
    const PathRole& out = outputs[o];
    if (!checked(out)) continue;
    for (const PathRole& in : inputs) {
      if (!checked(in) || !same_file(in.path, out.path)) continue;
      bool allowed = false;
      for (const auto& [i, w] : may_replace) allowed |= i == in.role && w == out.role;
      if (!allowed)
        throw Error(out.role + " " + out.path + " is the same file as " + in.role + " " + in.path +
                    ": refusing to overwrite an input");
    }
    for (size_t p = 0; p < o; ++p)
      if (checked(outputs[p]) && same_file(outputs[p].path, out.path))
        throw Error(outputs[p].role + " and " + out.role + " name the same file (" + out.path +
                    "): one would overwrite the other");
  }
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(getpid()) + "." + std::to_string(g_counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error(path_ + ": cannot write: " + error_text(errno));
  slot_ = register_temp(tmp_);
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  release_temp(slot_);
}

void AtomicFile::write(std::string_view data) {
  if (fd_ < 0) throw Error(path_ + ": write after commit");
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      discard();
      throw Error(path_ + ": write failed: " + error_text(err));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void AtomicFile::commit(OnCancel on_cancel) {
  if (fd_ < 0) throw Error(path_ + ": commit of a file already closed");
  if (on_cancel == OnCancel::kDiscard && cancel_requested()) {
    discard();
    throw Cancelled("interrupted; " + path_ + " was not written");
  }
  int err = 0;
  if (::fsync(fd_) != 0 && errno != EINVAL) err = errno;
  if (::close(fd_) != 0 && err == 0) err = errno;
  fd_ = -1;
  if (err == 0 && std::rename(tmp_.c_str(), path_.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp_.c_str());
    release_temp(slot_);
    throw Error(path_ + ": cannot write: " + error_text(err));
  }
  release_temp(slot_);
  // The rename is durable once the directory is; EINVAL: the file system cannot sync directories.
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  const bool synced = ::fsync(dir) == 0 || errno == EINVAL;
  err = errno;
  ::close(dir);
  if (!synced) throw Error(path_ + ": cannot write: " + error_text(err));
}

void write_atomically(const std::string& path, std::string_view data, OnCancel on_cancel) {
  AtomicFile f(path);
  f.write(data);
  f.commit(on_cancel);
}

void ensure_directory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw Error(dir + ": cannot create directory: " + std::strerror(errno));
}

}  // namespace ppmf

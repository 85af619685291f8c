// Buffered, error-checked text output.
#include "ppmf/csv_writer.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "ppmf/common.hpp"

namespace ppmf {

CsvWriter::CsvWriter(const std::string& path) : path_(path), is_stdout_(path == "-") {
  file_ = is_stdout_ ? stdout : std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) throw Error(path + ": cannot write: " + std::strerror(errno));
  buffer_.reserve(1 << 20);
}

CsvWriter::~CsvWriter() {
  if (file_ == nullptr) return;
  try {
    close();
  } catch (const Error&) {  // destructors must not throw; callers that care call close()
  }
}

void CsvWriter::flush_buffer() {
  if (buffer_.empty()) return;
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
    throw Error(path_ + ": write failed: " + std::strerror(errno));
  buffer_.clear();
}

CsvWriter& CsvWriter::write(std::string_view s) {
  buffer_.append(s);
  if (buffer_.size() >= (1 << 20)) flush_buffer();
  return *this;
}

CsvWriter& CsvWriter::field(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return write(s);
  buffer_ += '"';
  for (char c : s) {
    if (c == '"') buffer_ += '"';
    buffer_ += c;
  }
  buffer_ += '"';
  return *this;
}

CsvWriter& CsvWriter::number(double v) {
  char buf[32];
  const int len = std::snprintf(buf, sizeof buf, "%.9g", v);
  return write(std::string_view(buf, static_cast<size_t>(len)));
}

CsvWriter& CsvWriter::number(float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return write(std::string_view(buf, static_cast<size_t>(res.ptr - buf)));
}

void CsvWriter::close() {
  if (file_ == nullptr) return;
  bool ok = true;
  try {
    flush_buffer();
  } catch (const Error&) {
    ok = false;
  }
  std::FILE* f = file_;
  file_ = nullptr;
  ok = std::fflush(f) == 0 && ok;
  if (!is_stdout_) ok = std::fclose(f) == 0 && ok;
  if (!ok) throw Error(path_ + ": write failed: " + std::strerror(errno));
}

void ensure_directory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw Error(dir + ": cannot create directory: " + std::strerror(errno));
}

void write_text_file(const std::string& path, std::string_view text) {
  CsvWriter w(path);
  w.write(text);
  w.close();
}

}  // namespace ppmf

// Buffered, error-checked, atomic text output.
#include "ppmf/csv_writer.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "ppmf/cancel.hpp"
#include "ppmf/common.hpp"

namespace ppmf {

namespace {
constexpr size_t kBlock = size_t{1} << 20;
}

CsvWriter::CsvWriter(const std::string& path) : path_(path) {
  if (path != "-") file_ = std::make_unique<AtomicFile>(path);
  buffer_.reserve(kBlock);
}

CsvWriter::~CsvWriter() = default;  // an unclosed file_ removes its temporary file

void CsvWriter::flush_buffer() {
  throw_if_cancelled();
  if (buffer_.empty()) return;
  if (file_) {
    file_->write(buffer_);
  } else if (std::fwrite(buffer_.data(), 1, buffer_.size(), stdout) != buffer_.size()) {
    throw Error("standard output: write failed: " + std::string(std::strerror(errno)));
  }
  buffer_.clear();
}

CsvWriter& CsvWriter::write(std::string_view s) {
  buffer_.append(s);
  if (buffer_.size() >= kBlock) flush_buffer();
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
  if (closed_) return;
  flush_buffer();
  closed_ = true;
  if (file_) {
    file_->commit();
  } else if (std::fflush(stdout) != 0) {
    throw Error("standard output: write failed: " + std::string(std::strerror(errno)));
  }
}

void write_text_file(const std::string& path, std::string_view text) {
  CsvWriter w(path);
  w.write(text);
  w.close();
}

}  // namespace ppmf

// Buffered text output to a file or stdout ("-") that turns every write failure (disk full, closed
// pipe) into an Error naming the file, instead of a silently short output. A file is written
// atomically (an AtomicFile): it appears, complete, at close(); a writer destroyed before close()
// (an error, an interruption) leaves no file. Between blocks it polls the cancellation request,
// so an interrupted command stops writing (throwing Cancelled).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ppmf/files.hpp"

namespace ppmf {

class CsvWriter {
 public:
  explicit CsvWriter(const std::string& path);  // "-" = stdout
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  CsvWriter& write(std::string_view s);
  CsvWriter& field(std::string_view s);  // quoted if it holds a comma, quote or newline
  CsvWriter& number(double v);           // 9 significant digits
  CsvWriter& number(float v);            // the shortest form that reads back as the same float
  CsvWriter& sep() { return write(","); }
  CsvWriter& end_line() { return write("\n"); }
  void close();  // flushes and publishes the file; errors are thrown

 private:
  std::string path_;
  std::unique_ptr<AtomicFile> file_;  // null for stdout
  std::string buffer_;
  bool closed_ = false;
  void flush_buffer();
};

// Writes `text` to `path` ("-" = stdout) through a CsvWriter.
void write_text_file(const std::string& path, std::string_view text);

}  // namespace ppmf

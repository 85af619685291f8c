// Buffered text output to a file or stdout ("-") that turns every write failure (disk full, closed
// pipe) into an Error naming the file, instead of a silently short output.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

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
  void close();  // flushes and reports errors; the destructor closes quietly

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
  bool is_stdout_ = false;
  void flush_buffer();
};

// Creates directory `dir` unless it exists.
void ensure_directory(const std::string& dir);

// Writes `text` to `path` ("-" = stdout) through a CsvWriter.
void write_text_file(const std::string& path, std::string_view text);

}  // namespace ppmf

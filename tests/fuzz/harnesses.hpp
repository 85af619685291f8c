// Fuzz harnesses: each takes arbitrary bytes, feeds them to one reader of untrusted input, and
// aborts if the reader crashes, hangs or returns something inconsistent; a clear ppmf::Error is
// the expected answer to bad bytes. Each returns whether the input was accepted (read without
// error), so the tests can check that the seeds are valid inputs. libFuzzer drives them (fuzz_target.cpp, PPMF_FUZZ=ON), and
// the test suite replays the seed corpus and every past crash through them (test_fuzz_inputs.cpp).
#pragma once

#include <string_view>

namespace ppmf::fuzz {

// Ratings files: the first byte chooses the reader's options (duplicate policy, bad-line
// skipping, value column, column order, time column), the rest is the file (gzip or text).
bool ratings_reader(std::string_view bytes);
// Group files ("id,group").
bool group_reader(std::string_view bytes);
// Model files and checkpoints: the first byte chooses between the raw file (bit 7 set) and the
// rest as a payload wrapped in a valid header (version 1 + (byte mod the newest); checksum
// computed), so the
// decoder, not the checksum, meets the damage. A model that loads is then used for predictions.
bool model_file(std::string_view bytes);
bool checkpoint_file(std::string_view bytes);

struct Harness {
  const char* name;  // also the corpus directory's name
  bool (*run)(std::string_view);
};
inline constexpr Harness kHarnesses[] = {{"ratings_reader", ratings_reader},
                                         {"group_reader", group_reader},
                                         {"model_file", model_file},
                                         {"checkpoint_file", checkpoint_file}};

}  // namespace ppmf::fuzz

// Tests for the text readers (reader.hpp), the id map and the Ratings helpers: every delimiter and
// header form, gzip, each bad-input message, the duplicate policies, and id round trips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#if PPMF_TEST_ZLIB
#include <zlib.h>
#endif

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ppmf/common.hpp"
#include "ppmf/id_map.hpp"
#include "ppmf/ratings.hpp"
#include "ppmf/reader.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// One entry with its ids spelled out, so expectations do not depend on index order.
struct Row {
  std::string user, item;
  float value;
  bool operator==(const Row& o) const {
    return user == o.user && item == o.item && value == o.value;
  }
};

void PrintTo(const Row& r, std::ostream* os) {
  *os << r.user << "," << r.item << "," << r.value;
}

std::vector<Row> rows(const Ratings& r) {
  std::vector<Row> out;
  for (size_t e = 0; e < r.size(); ++e) {
    out.push_back(
        {std::string(r.users.name(r.user[e])), std::string(r.items.name(r.item[e])), r.value[e]});
  }
  return out;
}

Ratings parse(std::string_view text, const ReadOptions& opts = {}, ReadReport* report = nullptr) {
  return parse_ratings("mem.csv", text, opts, report);
}

// The message parse_ratings throws for `text`, or "" when it does not throw.
std::string parse_error(std::string_view text, const ReadOptions& opts = {}) {
  try {
    parse(text, opts);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ReadOptions pairs_options() {
  ReadOptions o;
  o.need_value = false;
  return o;
}

ReadOptions with_duplicates(DuplicatePolicy p) {
  ReadOptions o;
  o.duplicates = p;
  return o;
}

ReadOptions with_columns(std::vector<std::string> columns) {
  ReadOptions o;
  o.columns = std::move(columns);
  return o;
}

class ReaderFiles : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const {
    return testing::temp_path(name);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
#if PPMF_TEST_ZLIB
  std::string write_gz(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
    return p;
  }
#endif
};

// --- time column ------------------------------------------------------------------------------

ReadOptions with_time(const std::string& column) {
  ReadOptions o;
  o.time_column = column;
  return o;
}

TEST(ReaderTime, EpochSecondsDatesAndDateTimes) {
  const Ratings r = parse(
      "u1::i1::5::1365029107\n"
      "u1::i2::4::1365029107.25\n",
      with_time("4"));
  ASSERT_EQ(r.time.size(), 2u);
  EXPECT_DOUBLE_EQ(r.time[0], 1365029107.0);
  EXPECT_DOUBLE_EQ(r.time[1], 1365029107.25);
  const Ratings d = parse(
      "user,item,rating,when\n"
      "a,x,1,1970-01-02\n"
      "a,y,2,2000-07-12\n"
      "b,x,3,2013-04-03T22:45:07Z\n"
      "b,y,4,2013-04-03 22:45\n"
      "c,z,5,2024-02-29T00:00:00.5\n",
      with_time("when"));
  ASSERT_EQ(d.time.size(), 5u);
  EXPECT_DOUBLE_EQ(d.time[0], 86400.0);
  EXPECT_DOUBLE_EQ(d.time[1], 963360000.0);
  EXPECT_DOUBLE_EQ(d.time[2], 1365029107.0);
  EXPECT_DOUBLE_EQ(d.time[3], 1365029100.0);
  EXPECT_DOUBLE_EQ(d.time[4], 1709164800.5);
  EXPECT_TRUE(parse("u,i,1\n").time.empty()) << "no time column asked for";
}

TEST(ReaderTime, BadTimesNameTheLine) {
  EXPECT_THAT(parse_error("u,i,1,2020-13-01\n", with_time("4")),
              HasSubstr("mem.csv:1: unparsable time"));
  EXPECT_THAT(parse_error("u,i,1,2020-01-01\nu,j,2,yesterday\n", with_time("4")),
              HasSubstr("mem.csv:2: unparsable time (expected epoch seconds or YYYY-MM-DD"));
  EXPECT_THAT(parse_error("u,i,1,2020-01-01T25:00\n", with_time("4")),
              HasSubstr("unparsable time of day"));
  EXPECT_THAT(parse_error("u,i,1\n", with_time("4")), HasSubstr("expected at least 4 fields"));
  EXPECT_THAT(parse_error("u,i,1,5\n", with_time("when")), HasSubstr("has no header"));
  EXPECT_THAT(parse_error("user,item,r,t\nu,i,1,5\n", with_time("when")),
              HasSubstr("no column named 'when'"));
  EXPECT_THAT(parse_error("u,i,1,5\n", with_time("0")), HasSubstr("positions start at 1"));
}

// Merged duplicates keep the time of the entry they keep; subsets and compaction carry times.
TEST(ReaderTime, DuplicatesSubsetsAndCompactionKeepTimes) {
  ReadOptions o = with_time("4");
  o.duplicates = DuplicatePolicy::kLast;
  Ratings r = parse("u,i,1,10\nv,i,2,20\nu,i,3,30\n", o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r.time, (std::vector<double>{30, 20}));
  o.duplicates = DuplicatePolicy::kSum;
  r = parse("u,i,1,10\nv,i,2,20\nu,i,3,30\n", o);
  EXPECT_EQ(r.time, (std::vector<double>{10, 20}));
  const Ratings part = compact(subset(r, {1}));
  EXPECT_EQ(part.time, (std::vector<double>{20}));
  EXPECT_EQ(part.users.name(0), "v");
}

// --- delimiters, headers, columns -------------------------------------------------------------

TEST(ReaderParse, Comma) {
  ReadReport rep;
  const Ratings r = parse("u1,i1,3.5\nu2,i1,4\nu1,i2,1e0\n", {}, &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 3.5f}, {"u2", "i1", 4}, {"u1", "i2", 1}}));
  EXPECT_EQ(r.users.size(), 2u);
  EXPECT_EQ(r.items.size(), 2u);
  EXPECT_EQ(rep.delimiter, "comma");
  EXPECT_FALSE(rep.had_header);
  EXPECT_EQ(rep.lines_read, 3u);
}

TEST(ReaderParse, Tab) {
  ReadReport rep;
  const Ratings r = parse("u 1\ti1\t2\n u2 \t i2 \t 5 \n", {}, &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u 1", "i1", 2}, {"u2", "i2", 5}}));
  EXPECT_EQ(rep.delimiter, "tab");
}

TEST(ReaderParse, FirstLineChoosesDelimiterAndHeader) {
  ReadReport rep;
  // A tab wins over commas; a first line whose value column is not a number is a header.
  const Ratings r = parse("a,b\tc\td\nu,1\ti1\t2\n", {}, &rep);
  EXPECT_EQ(rep.delimiter, "tab");
  EXPECT_TRUE(rep.had_header);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u,1", "i1", 2}}));
}

TEST(ReaderParse, DoubleColon) {
  ReadReport rep;
  const Ratings r = parse("1::1193::5::978300760\n1::661::3::978302109\n", {}, &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"1", "1193", 5}, {"1", "661", 3}}));
  EXPECT_EQ(rep.delimiter, "::");
}

TEST(ReaderParse, Whitespace) {
  ReadReport rep;
  // Tabs only count as separators once the first line (no tab in it) chose whitespace.
  const Ratings r = parse("  u1   i1  2.5\nu2 \t i2\t3  \n", {}, &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 2.5f}, {"u2", "i2", 3}}));
  EXPECT_EQ(rep.delimiter, "whitespace");
}

TEST(ReaderParse, CommaTrimsSpacesAndTabs) {
  // The first line has no tab, so commas separate and tabs are trimmed like spaces.
  EXPECT_EQ(rows(parse(" u1 , i1 , 2 \nu2\t,\ti2\t,3\n")),
            (std::vector<Row>{{"u1", "i1", 2}, {"u2", "i2", 3}}));
}

TEST(ReaderParse, QuotedFields) {
  const Ratings r = parse("\"Smith, J\",\"i,1\",\"4\"\n \"u2\" , i2 ,1\n");
  EXPECT_EQ(rows(r), (std::vector<Row>{{"Smith, J", "i,1", 4}, {"u2", "i2", 1}}));
}

TEST(ReaderParse, ExtraColumnsIgnored) {
  EXPECT_EQ(rows(parse("u1,i1,4,881250949,extra\n")), (std::vector<Row>{{"u1", "i1", 4}}));
}

TEST(ReaderParse, HeaderDetectedFromValueColumn) {
  ReadReport rep;
  const Ratings r = parse("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n", {}, &rep);
  EXPECT_TRUE(rep.had_header);
  EXPECT_EQ(rep.lines_read, 1u);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"1", "31", 2.5f}}));
}

TEST(ReaderParse, ColumnsByName) {
  ReadReport rep;
  const Ratings r = parse("ts,Rating,ITEM,user\n7,4.5,i1,u1\n8,2,i2,u2\n",
                          with_columns({"user", "item", "rating"}), &rep);
  EXPECT_TRUE(rep.had_header);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 4.5f}, {"u2", "i2", 2}}));
}

TEST(ReaderParse, ColumnsByPosition) {
  const Ratings r = parse("7,4.5,i1,u1\n8,2,i2,u2\n", with_columns({"4", "3", "2"}));
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 4.5f}, {"u2", "i2", 2}}));
}

TEST(ReaderParse, ColumnsByPositionWithHeader) {
  ReadReport rep;
  const Ratings r = parse("a,b,c,d\n7,4.5,i1,u1\n", with_columns({"4", "3", "2"}), &rep);
  EXPECT_TRUE(rep.had_header);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 4.5f}}));
}

TEST(ReaderParse, ColumnsMixedNameAndPosition) {
  const Ratings r = parse("u,i,score\nu1,i1,3\n", with_columns({"1", "i", "score"}));
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 3}}));
}

TEST(ReaderParse, ColumnErrors) {
  EXPECT_EQ(parse_error("u,i,r\nu1,i1,3\n", with_columns({"user", "i", "r"})),
            "mem.csv: no column named 'user' (header has: u, i, r)");
  // A column list of the wrong shape is a setting's error, named by the setting.
  EXPECT_THAT(parse_error("u1,i1,3\n", with_columns({"1", "2"})),
              StartsWith("columns: expects user,item,value"));
  EXPECT_THAT(parse_error("u1,i1,3\n", with_columns({"0", "1", "2"})),
              StartsWith("columns: bad column '0'"));
}

TEST(ReaderParse, CrlfBomCommentsAndBlankLines) {
  ReadReport rep;
  const Ratings r = parse(
      "\xEF\xBB\xBFuser,item,rating\r\n# a comment\r\n\r\n   \t\r\nu1,i1,3\r\n"
      "\nu2,i2,4",
      {}, &rep);
  EXPECT_TRUE(rep.had_header);
  EXPECT_EQ(rep.lines_read, 2u);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 3}, {"u2", "i2", 4}}));
}

TEST(ReaderParse, CommentLinesStillCountForLineNumbers) {
  EXPECT_EQ(parse_error("# c\n\nu1,i1,3\nu2,i2,x\n"), "mem.csv:4: unparsable value 'x'");
}

TEST(ReaderParse, PlusSignAndExponent) {
  EXPECT_EQ(rows(parse("u1,i1,+3.5\nu2,i2,-1e-1\n")),
            (std::vector<Row>{{"u1", "i1", 3.5f}, {"u2", "i2", -0.1f}}));
}

// --- bad input ----------------------------------------------------------------------------------

TEST(ReaderBadInput, Messages) {
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2\n"), "mem.csv:2: expected at least 3 fields, found 2");
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2,abc\n"), "mem.csv:2: unparsable value 'abc'");
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2,3.5x\n"), "mem.csv:2: unparsable value '3.5x'");
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2,+-3\n"), "mem.csv:2: unparsable value '+-3'");
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2,\n"), "mem.csv:2: unparsable value ''");
  EXPECT_EQ(parse_error("u1,i1,nan\n"), "mem.csv:1: value is not finite 'nan'");
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2,-inf\n"), "mem.csv:2: value is not finite '-inf'");
  EXPECT_EQ(parse_error("u1,i1,3\nu2,i2,1e99\n"), "mem.csv:2: value out of float range '1e99'");
  EXPECT_EQ(parse_error("u1,i1,3\n,i2,1\n"), "mem.csv:2: empty user id");
  EXPECT_EQ(parse_error("u1,i1,3\nu2, ,1\n"), "mem.csv:2: empty item id");
}

TEST(ReaderBadInput, LongFieldIsCutInMessage) {
  const std::string msg = parse_error("u1,i1,3\nu2,i2," + std::string(500, 'x') + "\n");
  EXPECT_THAT(msg, StartsWith("mem.csv:2: unparsable value 'xxx"));
  EXPECT_THAT(msg, HasSubstr("...'"));
  EXPECT_LT(msg.size(), 120u);
}

TEST(ReaderBadInput, SkipBadLinesCounts) {
  ReadOptions o;
  o.skip_bad_lines = true;
  ReadReport rep;
  const Ratings r = parse("u1,i1,3\nu2,i2\nu3,i3,nan\n,i4,1\nu5,i5,5\nu6,i6,zz\n", o, &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 3}, {"u5", "i5", 5}}));
  EXPECT_EQ(rep.bad_lines_skipped, 4u);
  EXPECT_EQ(rep.lines_read, 6u);
  // Ids of skipped lines never reach the maps.
  EXPECT_EQ(r.users.size(), 2u);
  EXPECT_EQ(r.items.size(), 2u);
}

TEST(ReaderBadInput, AllLinesSkipped) {
  ReadOptions o;
  o.skip_bad_lines = true;
  EXPECT_EQ(parse_error("u1,i1,nan\nu2,i2,y\n", o),
            "mem.csv: no valid data lines (2 bad lines skipped)");
}

TEST(ReaderBadInput, NoDataLines) {
  EXPECT_EQ(parse_error(""), "mem.csv: no data lines");
  EXPECT_EQ(parse_error("\n\n# only comments\n  \n"), "mem.csv: no data lines");
  EXPECT_EQ(parse_error("user,item,rating\n"), "mem.csv: no data lines");
  EXPECT_EQ(parse_error("\xEF\xBB\xBF"), "mem.csv: no data lines");
}

// --- duplicates ---------------------------------------------------------------------------------

// Grouped by user (users ascend) and interleaved (they do not): the two ways duplicates are found.
constexpr char kGroupedDuplicates[] = "a,x,1\na,y,2\na,x,4\nb,x,8\nb,x,16\nb,x,32\n";
constexpr char kInterleavedDuplicates[] = "a,x,1\nb,x,8\na,y,2\nb,x,16\na,x,4\nb,x,32\n";

TEST(ReaderDuplicates, ErrorNamesBothLines) {
  EXPECT_EQ(parse_error(kGroupedDuplicates),
            "mem.csv:3: duplicate entry (user 'a', item 'x') first seen on line 1; choose a "
            "duplicates policy (sum, mean or last) to merge repeats");
  // The earliest repeat in the file is reported, whichever user it belongs to.
  EXPECT_EQ(parse_error(kInterleavedDuplicates),
            "mem.csv:4: duplicate entry (user 'b', item 'x') first seen on line 2; choose a "
            "duplicates policy (sum, mean or last) to merge repeats");
}

TEST(ReaderDuplicates, ErrorLineNumbersSkipHeaderCommentsAndBadLines) {
  ReadOptions o;
  o.skip_bad_lines = true;
  EXPECT_THAT(parse_error("u,i,r\n# c\nu1,i1,oops\nu1,i1,1\n\nu1,i1,2\n", o),
              StartsWith("mem.csv:6: duplicate entry (user 'u1', item 'i1') first seen on line 4"));
}

TEST(ReaderDuplicates, Sum) {
  ReadReport rep;
  // The merged entry keeps the first occurrence's place.
  EXPECT_EQ(rows(parse(kGroupedDuplicates, with_duplicates(DuplicatePolicy::kSum), &rep)),
            (std::vector<Row>{{"a", "x", 5}, {"a", "y", 2}, {"b", "x", 56}}));
  EXPECT_EQ(rep.duplicates_merged, 3u);
  EXPECT_EQ(rep.lines_read, 6u);
  EXPECT_EQ(rows(parse(kInterleavedDuplicates, with_duplicates(DuplicatePolicy::kSum), &rep)),
            (std::vector<Row>{{"a", "x", 5}, {"b", "x", 56}, {"a", "y", 2}}));
  EXPECT_EQ(rep.duplicates_merged, 3u);
}

TEST(ReaderDuplicates, Mean) {
  EXPECT_EQ(rows(parse(kGroupedDuplicates, with_duplicates(DuplicatePolicy::kMean))),
            (std::vector<Row>{{"a", "x", 2.5f}, {"a", "y", 2}, {"b", "x", 56.0f / 3}}));
  EXPECT_EQ(rows(parse(kInterleavedDuplicates, with_duplicates(DuplicatePolicy::kMean))),
            (std::vector<Row>{{"a", "x", 2.5f}, {"b", "x", 56.0f / 3}, {"a", "y", 2}}));
}

TEST(ReaderDuplicates, Last) {
  EXPECT_EQ(rows(parse(kGroupedDuplicates, with_duplicates(DuplicatePolicy::kLast))),
            (std::vector<Row>{{"a", "x", 4}, {"a", "y", 2}, {"b", "x", 32}}));
  EXPECT_EQ(rows(parse(kInterleavedDuplicates, with_duplicates(DuplicatePolicy::kLast))),
            (std::vector<Row>{{"a", "x", 4}, {"b", "x", 32}, {"a", "y", 2}}));
}

TEST(ReaderDuplicates, PairFilesKeepRepeats) {
  ReadReport rep;
  const Ratings r = parse("a,x\na,x\nb,y\n", pairs_options(), &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"a", "x", 0}, {"a", "x", 0}, {"b", "y", 0}}));
  EXPECT_EQ(rep.duplicates_merged, 0u);
}

// Random files against a std::map reference, through both duplicate paths.
TEST(ReaderDuplicates, MatchReferenceOnRandomFiles) {
  Rng rng(7);
  for (const bool grouped : {true, false}) {
    for (const DuplicatePolicy policy :
         {DuplicatePolicy::kSum, DuplicatePolicy::kMean, DuplicatePolicy::kLast}) {
      std::string text;
      std::map<std::pair<std::string, std::string>, std::pair<double, int>> ref;
      for (int k = 0; k < 20000; ++k) {
        const std::string u =
            "u" + std::to_string(grouped ? k / 40 : static_cast<int>(rng.below(300)));
        const std::string i = "i" + std::to_string(rng.below(60));
        const int v = static_cast<int>(rng.below(5)) + 1;
        text += u + "," + i + "," + std::to_string(v) + "\n";
        auto& [acc, n] = ref[{u, i}];
        acc = policy == DuplicatePolicy::kLast ? v : acc + v;
        ++n;
      }
      ReadReport rep;
      const Ratings r = parse(text, with_duplicates(policy), &rep);
      ASSERT_EQ(r.size(), ref.size());
      EXPECT_EQ(rep.duplicates_merged, 20000 - ref.size());
      for (const Row& row : rows(r)) {
        const auto& [acc, n] = ref.at({row.user, row.item});
        const double want = policy == DuplicatePolicy::kMean ? acc / n : acc;
        EXPECT_NEAR(row.value, want, 1e-4) << row.user << "," << row.item;
      }
    }
  }
}

// Tables built in memory (the Python package's arrays) get the reader's duplicate policies; the
// error names the two entries by position.
TEST(ReaderDuplicates, InMemoryTables) {
  const auto table = [] {
    Ratings r;
    for (const auto& [u, i, v] : std::vector<std::tuple<const char*, const char*, float>>{
             {"a", "x", 1}, {"b", "x", 2}, {"a", "y", 3}, {"a", "x", 5}})
      r.push(r.users.insert(u), r.items.insert(i), v);
    return r;
  };
  Ratings r = table();
  try {
    merge_duplicate_entries(r, DuplicatePolicy::kError, "arrays");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "arrays: entry 3 repeats entry 0 (user 'a', item 'x'); choose a duplicates "
                 "policy (sum, mean or last) to merge repeats");
  }
  r = table();
  EXPECT_EQ(merge_duplicate_entries(r, DuplicatePolicy::kMean, "arrays"), 1u);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"a", "x", 3}, {"b", "x", 2}, {"a", "y", 3}}));
}

TEST(ReaderDuplicates, PolicyNames) {
  for (const DuplicatePolicy p : {DuplicatePolicy::kError, DuplicatePolicy::kSum,
                                  DuplicatePolicy::kMean, DuplicatePolicy::kLast}) {
    EXPECT_EQ(parse_duplicate_policy(to_string(p)), p);
  }
  EXPECT_STREQ(to_string(DuplicatePolicy::kMean), "mean");
  try {
    parse_duplicate_policy("max");
    FAIL() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "duplicates");
    EXPECT_STREQ(e.what(), "duplicates: unknown policy 'max' (expected error|sum|mean|last)");
  }
}

// --- pair files ---------------------------------------------------------------------------------

TEST(ReaderPairs, ValuesAreZeroAndExtraColumnsIgnored) {
  ReadReport rep;
  const Ratings r = parse("u1,i1\nu2,i2,5\n", pairs_options(), &rep);
  EXPECT_FALSE(rep.had_header);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 0}, {"u2", "i2", 0}}));
}

TEST(ReaderPairs, HeaderByIdColumnName) {
  for (const char* header :
       {"user,item", "USER_ID,item_id", "userId,movieId", "id,x", "a,ItemId"}) {
    ReadReport rep;
    const Ratings r = parse(std::string(header) + "\nu1,i1\n", pairs_options(), &rep);
    EXPECT_TRUE(rep.had_header) << header;
    EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 0}})) << header;
  }
}

TEST(ReaderPairs, RatingsColumnsAccepted) {
  ReadOptions o = pairs_options();
  o.columns = {"user", "movie", "rating"};  // the value column is not needed and not looked up
  EXPECT_EQ(rows(parse("movie,user\ni1,u1\n", o)), (std::vector<Row>{{"u1", "i1", 0}}));
}

TEST(ReaderPairs, TooFewFields) {
  EXPECT_EQ(parse_error("u1,i1\nu2\n", pairs_options()),
            "mem.csv:2: expected at least 2 fields, found 1");
}

// --- ids ----------------------------------------------------------------------------------------

TEST(ReaderIds, RoundTripManyDistinctIdsInRandomOrder) {
  // Short ids sit inside the reader's hash slots; ids over 20 bytes are compared in the text.
  Rng rng(3);
  std::string text;
  std::vector<std::pair<std::string, std::string>> want;
  for (int k = 0; k < 60000; ++k) {
    const uint64_t u = rng.below(20000);
    std::string user = (u % 2 ? "user-with-a-long-name-" : "u") + std::to_string(u);
    std::string item = "item " + std::to_string(rng.below(3000));
    text += user + "\t" + item + "\t1\n";
    want.emplace_back(std::move(user), std::move(item));
  }
  const Ratings r = parse(text, with_duplicates(DuplicatePolicy::kLast));
  std::map<std::pair<std::string, std::string>, int> unique;
  for (const auto& w : want) unique[w];
  ASSERT_EQ(r.size(), unique.size());
  for (const Row& row : rows(r)) EXPECT_EQ(unique.count({row.user, row.item}), 1u);
  // Indices follow first occurrence, and every name maps back to its index.
  EXPECT_EQ(r.users.name(0), want[0].first);
  EXPECT_EQ(r.items.name(0), want[0].second);
  for (size_t k = 0; k < r.users.size(); ++k) {
    EXPECT_EQ(r.users.find(r.users.name(static_cast<int32_t>(k))), static_cast<int32_t>(k));
  }
  EXPECT_EQ(r.users.find("u999999"), -1);
}

TEST(IdMapTest, ManyInsertsAndFind) {
  IdMap m;
  EXPECT_EQ(m.find("x"), -1);
  EXPECT_EQ(m.size(), 0u);
  for (int k = 0; k < 200000; ++k) ASSERT_EQ(m.insert("id" + std::to_string(k)), k);
  EXPECT_EQ(m.size(), 200000u);
  for (int k = 0; k < 200000; ++k) {
    ASSERT_EQ(m.find("id" + std::to_string(k)), k);
    ASSERT_EQ(m.insert("id" + std::to_string(k)), k);
  }
  EXPECT_EQ(m.find("id200000"), -1);
  EXPECT_EQ(m.find(""), -1);
  EXPECT_EQ(m.name(123), "id123");
  EXPECT_EQ(m.size(), 200000u);
}

TEST(IdMapTest, EmptyAndOddNames) {
  IdMap m;
  EXPECT_EQ(m.insert(""), 0);
  EXPECT_EQ(m.insert(std::string("a\0b", 3)), 1);
  EXPECT_EQ(m.insert("a"), 2);
  EXPECT_EQ(m.insert("exactly8"), 3);
  EXPECT_EQ(m.insert("exactly8!"), 4);
  EXPECT_EQ(m.find(std::string("a\0b", 3)), 1);
  EXPECT_EQ(m.find(""), 0);
  EXPECT_EQ(m.find("exactly8"), 3);
}

TEST(IdMapTest, FromNames) {
  std::vector<std::string> names;
  for (int k = 0; k < 50000; ++k) names.push_back("n" + std::to_string(k * 7));
  const IdMap m(names);
  EXPECT_EQ(m.size(), names.size());
  EXPECT_EQ(m.names(), names);
  for (size_t k = 0; k < names.size(); ++k) ASSERT_EQ(m.find(names[k]), static_cast<int32_t>(k));
  IdMap copy = m;
  EXPECT_EQ(copy.insert("new"), 50000);
  EXPECT_EQ(copy.find("n7"), 1);
  EXPECT_EQ(m.find("new"), -1);
}

TEST(IdMapTest, FromNamesRejectsDuplicates) {
  try {
    IdMap m({"a", "b", "a"});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "duplicate id 'a'");
  }
}

// --- Ratings helpers ----------------------------------------------------------------------------

TEST(RatingsHelpers, SubsetCompactAndCounts) {
  const Ratings r = parse("a,x,1\nb,y,2\nc,x,3\na,z,4\nd,w,5\n");
  EXPECT_EQ(count_per_user(r), (std::vector<int32_t>{2, 1, 1, 1}));
  EXPECT_EQ(count_per_item(r), (std::vector<int32_t>{2, 1, 1, 1}));

  const Ratings s = subset(r, {3, 2});
  EXPECT_EQ(rows(s), (std::vector<Row>{{"a", "z", 4}, {"c", "x", 3}}));
  EXPECT_EQ(s.users.size(), 4u);  // shares the source's maps
  EXPECT_EQ(count_per_user(s), (std::vector<int32_t>{1, 0, 1, 0}));

  const Ratings c = compact(s);
  EXPECT_EQ(rows(c), rows(s));
  EXPECT_EQ(c.users.names(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(c.items.names(), (std::vector<std::string>{"z", "x"}));
  EXPECT_EQ(c.user, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(c.item, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(count_per_item(c), (std::vector<int32_t>{1, 1}));

  EXPECT_EQ(compact(subset(r, {})).size(), 0u);
}

// --- files --------------------------------------------------------------------------------------

TEST_F(ReaderFiles, ReadsPlainFile) {
  const std::string p = write("plain.csv", "user,item,rating\nu1,i1,3\nu2,i1,4\n");
  ReadReport rep;
  const Ratings r = read_ratings(p, {}, &rep);
  EXPECT_EQ(rows(r), (std::vector<Row>{{"u1", "i1", 3}, {"u2", "i1", 4}}));
  EXPECT_TRUE(rep.had_header);
  std::remove(p.c_str());
}

#if PPMF_TEST_ZLIB
TEST_F(ReaderFiles, ReadsGzipByMagicNotName) {
  std::string text = "user\titem\trating\n";
  for (int k = 0; k < 30000; ++k) {
    text += "u" + std::to_string(k % 1000) + "\ti" + std::to_string(k / 1000) + "\t" +
            std::to_string(k % 5 + 1) + "\n";
  }
  const std::string p = write_gz("ratings.txt", text);
  EXPECT_EQ(read_file_bytes(p), text);
  ReadReport rep;
  const Ratings r = read_ratings(p, {}, &rep);
  EXPECT_EQ(r.size(), 30000u);
  EXPECT_EQ(rep.delimiter, "tab");
  EXPECT_EQ(rows(r)[1001], (Row{"u1", "i1", 2}));
  std::remove(p.c_str());
}

TEST_F(ReaderFiles, ConcatenatedGzipMembers) {
  const std::string a = write_gz("a.gz", "u1,i1,1\n");
  const std::string b = write_gz("b.gz", "u2,i2,2\n");
  const std::string cat = write("cat.gz", slurp(a) + slurp(b));
  EXPECT_EQ(read_file_bytes(cat), "u1,i1,1\nu2,i2,2\n");
  for (const std::string& f : {a, b, cat}) std::remove(f.c_str());
}

TEST_F(ReaderFiles, TruncatedGzip) {
  const std::string full = write_gz("full.gz", std::string(100000, 'x'));
  const std::string bytes = slurp(full);
  const std::string p = write("cut.gz", bytes.substr(0, bytes.size() / 2));
  try {
    read_file_bytes(p);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), p + ": truncated gzip data");
  }
  std::remove(full.c_str());
  std::remove(p.c_str());
}
#else
// Without zlib a gzip file is refused with one clear line (the bytes of `printf 'u1,i1,1\n' |
// gzip -9n`).
TEST_F(ReaderFiles, GzipWithoutZlibIsAClearError) {
  const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b,
                              0x35, 0xd4, 0xc9, 0x34, 0xd4, 0x31, 0xe4, 0x02, 0x00, 0xe6, 0xf0,
                              0x82, 0x34, 0x08, 0x00, 0x00, 0x00};
  const std::string p = write("ratings.csv.gz", std::string(reinterpret_cast<const char*>(gz), sizeof gz));
  try {
    read_ratings(p, {});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(": gzip-compressed, but this build has no zlib"));
  }
  std::remove(p.c_str());
}
#endif

TEST_F(ReaderFiles, ErrorsNameThePath) {
  const std::string p = write("bad.csv", "u1,i1,3\nu2,i2,oops\n");
  try {
    read_ratings(p, {});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), p + ":2: unparsable value 'oops'");
  }
  std::remove(p.c_str());
}

TEST_F(ReaderFiles, MissingFile) {
  const std::string p = path("does_not_exist.csv");
  for (int which = 0; which < 3; ++which) {
    try {
      if (which == 0) read_ratings(p, {});
      if (which == 1) read_file_bytes(p);
      if (which == 2) read_group_file(p);
      FAIL() << "no throw";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), p + ": cannot open: No such file or directory");
    }
  }
}

TEST_F(ReaderFiles, EmptyFile) {
  const std::string p = write("empty.csv", "");
  EXPECT_EQ(read_file_bytes(p), "");
  try {
    read_ratings(p, {});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), p + ": no data lines");
  }
  std::remove(p.c_str());
}

// --- group files --------------------------------------------------------------------------------

TEST_F(ReaderFiles, GroupFileWithAndWithoutHeader) {
  for (const std::string& text :
       {std::string("id,group\nu1,g1\nu2,g2\n"), std::string("u1,g1\nu2,g2\n"),
        std::string("user,channel\r\nu1,g1\r\n# c\r\nu2,g2\r\nu1,g1\r\n"),
        std::string("u1\tg1\tignored\nu2\tg2\n"), std::string("x GROUP\nu1 g1\nu2 g2\n")}) {
    const std::string p = write("groups.csv", text);
    const GroupFile g = read_group_file(p);
    EXPECT_EQ(g, (GroupFile{{"u1", "g1"}, {"u2", "g2"}})) << text;
    std::remove(p.c_str());
  }
}

TEST_F(ReaderFiles, GroupFileErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"id,group\nu1,g1\nu1,g2\n", ":3: id 'u1' assigned to group 'g2' but earlier to group 'g1'"},
      {"u1,g1\nu2\n", ":2: expected at least 2 fields, found 1"},
      {"u1,g1\n,g2\n", ":2: empty id"},
      {"u1,g1\nu2,\n", ":2: empty group"},
      {"id,group\n", ": no data lines"},
      {"", ": no data lines"},
  };
  for (const auto& [text, msg] : cases) {
    const std::string p = write("groups.csv", text);
    try {
      read_group_file(p);
      ADD_FAILURE() << "no throw for " << text;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), p + msg);
    }
    std::remove(p.c_str());
  }
}

}  // namespace
}  // namespace ppmf

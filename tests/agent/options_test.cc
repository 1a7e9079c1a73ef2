// CYCLEGC_OPTIONS as sanitizer users type it: ':' and ',' (and spaces) separate options,
// booleans read as the sanitizers' do, and a misspelled name gets a suggestion.
#include "options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cyclegc/gc.h"

namespace cyclegc::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(Options, ColonCommaAndSpaceAllSeparate) {
  const ParsedOptions p = parse_options("summary=0,stack_depth=3:interval_ms=5 verbosity=1");
  EXPECT_THAT(p.warnings, IsEmpty());
  EXPECT_FALSE(p.options.summary);
  EXPECT_EQ(p.options.stack_depth, 3);
  EXPECT_EQ(p.options.interval_ms, 5);
  EXPECT_EQ(p.options.verbosity, 1);
}

TEST(Options, DebugFlagsJoinWithPlus) {
  const ParsedOptions p = parse_options("debug=stats+collectable,summary=0");
  EXPECT_THAT(p.warnings, IsEmpty());
  EXPECT_EQ(p.options.debug_flags, DEBUG_STATS | DEBUG_COLLECTABLE);
  EXPECT_FALSE(p.options.summary);
}

TEST(Options, ACommaInsideDebugSaysHowToJoinFlags) {
  const ParsedOptions p = parse_options("debug=stats,collectable");
  EXPECT_EQ(p.options.debug_flags, DEBUG_STATS);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_THAT(p.warnings[0], HasSubstr("did you mean debug=...+collectable"));
}

TEST(Options, BooleansTakeTheSanitizersSpellings) {
  for (const char* yes : {"1", "true", "yes", "TRUE", "Yes"}) {
    const ParsedOptions p = parse_options(std::string("summary=0:help=") + yes);
    EXPECT_THAT(p.warnings, IsEmpty()) << yes;
    EXPECT_TRUE(p.options.help) << yes;
  }
  for (const char* no : {"0", "false", "no", "FALSE"}) {
    const ParsedOptions p = parse_options(std::string("summary=") + no);
    EXPECT_THAT(p.warnings, IsEmpty()) << no;
    EXPECT_FALSE(p.options.summary) << no;
  }
  const ParsedOptions bad = parse_options("summary=maybe");
  EXPECT_TRUE(bad.options.summary);
  ASSERT_EQ(bad.warnings.size(), 1u);
  EXPECT_THAT(bad.warnings[0], HasSubstr("0/1, true/false or yes/no"));
}

TEST(Options, AMisspelledNameGetsASuggestion) {
  EXPECT_THAT(parse_options("report_pth=x.json").warnings,
              ElementsAre(HasSubstr("did you mean 'report_path'")));
  EXPECT_THAT(parse_options("exit_code=23").warnings,
              ElementsAre(HasSubstr("did you mean 'exitcode'")));
  EXPECT_THAT(parse_options("intervalms=5").warnings,
              ElementsAre(HasSubstr("did you mean 'interval_ms'")));
  // Nothing close: no guess.
  const auto far = parse_options("colour=red").warnings;
  ASSERT_EQ(far.size(), 1u);
  EXPECT_THAT(far[0], ::testing::Not(HasSubstr("did you mean")));
}

TEST(Options, AQuotedValueKeepsItsSeparators) {
  const ParsedOptions p = parse_options("report_path='a,b:c.json',summary=0");
  EXPECT_THAT(p.warnings, IsEmpty());
  EXPECT_EQ(p.options.report_path, "a,b:c.json");
  EXPECT_FALSE(p.options.summary);
  EXPECT_EQ(parse_options("report_path=\"x y.json\"").options.report_path, "x y.json");
  // An unclosed quote is a warning, not a value running to the end.
  const ParsedOptions open = parse_options("report_path='oops,summary=0");
  EXPECT_EQ(open.options.report_path, "cyclegc.%p.json");
  EXPECT_THAT(open.warnings, ElementsAre(HasSubstr("unclosed quote")));
}

}  // namespace
}  // namespace cyclegc::agent

// The report schema's reader: what the agent writes reads back the same, and bad input gets one
// error that says what and where.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"

namespace cyclegc::report {
namespace {

using ::testing::HasSubstr;

Report sample_report() {
  Report r;
  r.process = {42, "/bin/app", "debug=leak", "frame-pointer", "exit", "2026-11-21T00:00:00Z"};
  r.collections = {{"explicit", 2, 3, 0, 0.001, 4}};
  r.objects = {{0, "Graph", "0x10", 40, "Graph(one)", -1, 0, 1, 0, false},
               {1, "Graph", "0x20", 40, "Graph(two)", -1, 0, 1, 0, false},
               {2, "Leaf", "0x30", 8, "<Leaf 0x30>", -1, -1, 1, 0, false}};
  r.stacks = {{0, {{"main", "app.cc", 12}}}};
  r.edges = {{0, 1, "next"}, {1, 0, "next"}, {1, 2, "leaf"}};
  r.collectable = {0, 1, 2};
  r.cycles = {{0, {0, 1}, {}, {1, 0, "next"}, "00000000000000aa"}};
  r.chains = {{2, "cycle", -1, {{1, 2, "leaf"}}}};
  r.live = {{"Graph", 0, 5, 200}};
  return r;
}

TEST(ReportJson, RoundTripsAndRebuildsWhatIsNotWritten) {
  auto read = from_json(to_json(sample_report()));
  ASSERT_TRUE(read.ok()) << read.status();
  const Report& r = *read;
  EXPECT_EQ(r.process.pid, 42);
  EXPECT_EQ(r.objects[1].label, "Graph(two)");
  EXPECT_EQ(r.stacks[0].frames[0].line, 12);
  ASSERT_EQ(r.cycles.size(), 1u);
  EXPECT_EQ(r.cycles[0].closing_edge.label, "next");
  ASSERT_EQ(r.cycles[0].edges.size(), 2u);  // rebuilt from `edges`: not the leaf edge
  ASSERT_EQ(r.chains.size(), 3u);           // the written one, plus one per cycle member
  EXPECT_EQ(r.chains[0].hops[0].label, "leaf");
  EXPECT_EQ(r.chains[1].cycle, 0);
  EXPECT_EQ(r.live[0].count, 5u);
  ASSERT_EQ(r.collections.size(), 1u);
  EXPECT_EQ(r.collections[0].unreadable, 4u);
}

// `unreadable` joined the collection records within version 1: a report without it reads as 0.
TEST(ReportJson, ACollectionWithoutUnreadableReadsAsZero) {
  auto j = nlohmann::json::parse(to_json(sample_report()));
  j["collections"][0].erase("unreadable");
  auto read = from_json(j.dump());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->collections[0].unreadable, 0u);
}

TEST(ReportJson, BadInputGivesOneErrorSayingWhere) {
  const std::string good = to_json(sample_report());
  auto truncated = from_json(good.substr(0, good.size() / 2));
  EXPECT_THAT(truncated.status().message(), HasSubstr("not valid JSON at byte"));
  EXPECT_THAT(from_json("").status().message(), HasSubstr("not valid JSON at byte"));
  EXPECT_THAT(from_json("[1,2]").status().message(), HasSubstr("$: expected an object"));
  EXPECT_THAT(from_json(R"({"schema":"something else","version":1})").status().message(),
              HasSubstr("$.schema: not a cyclegc report"));
  std::string newer = good;
  newer.replace(newer.find("\"version\":1"), 11, "\"version\":9");
  EXPECT_THAT(from_json(newer).status().message(),
              HasSubstr("$.version: this tool reads version 1, the report is version 9"));
  std::string mistyped = good;
  mistyped.replace(mistyped.find("\"label\":\"Graph(two)\""), 20, "\"label\":2");
  EXPECT_THAT(from_json(mistyped).status().message(),
              HasSubstr("$.objects[1].label: expected a string"));
}

TEST(ReportJson, ReferencesMustPointAtWhatExists) {
  Report dangling = sample_report();
  dangling.edges.push_back({1, 99, "next"});
  EXPECT_THAT(from_json(to_json(dangling)).status().message(),
              HasSubstr("$.edges[3].to: no object 99"));
  Report bad_stack = sample_report();
  bad_stack.objects[0].stack = 7;
  EXPECT_THAT(from_json(to_json(bad_stack)).status().message(),
              HasSubstr("$.objects[0].stack: no stack 7"));
  std::string huge = to_json(sample_report());
  huge.replace(huge.find("\"pid\":42"), 8, "\"pid\":99999999999");
  EXPECT_THAT(from_json(huge).status().message(),
              HasSubstr("$.process.pid: expected an integer in"));
  EXPECT_THAT(from_json(R"({"x":1e999999})").status().message(),
              HasSubstr("not a readable JSON document"));
}

TEST(ReportJson, SiteTextDropsOnlyTheParameterList) {
  EXPECT_EQ(site_text({"add_child(Ref<T> const&, std::string)", "/src/leaky_tree.cc", 25}),
            "add_child (leaky_tree.cc:25)");
  EXPECT_EQ(site_text({"(anonymous namespace)::Foo::Run() const", "a/b.cc", 3}),
            "(anonymous namespace)::Foo::Run (b.cc:3)");
  EXPECT_EQ(site_text({"", "", 0}), "??");
}

TEST(Suppressions, ParseAndMatchByTypeFrameAndShape) {
  auto s = parse_suppressions("# comment\ntype:Leaf\n\nframe:app.cc\nshape:00000000000000aa\n");
  ASSERT_TRUE(s.ok()) << s.status();
  Report by_type = sample_report();
  EXPECT_EQ(apply_suppressions({{"Leaf"}, {}, {}}, by_type), 1u);
  EXPECT_TRUE(by_type.objects[2].suppressed);
  Report by_frame = sample_report();
  EXPECT_EQ(apply_suppressions({{}, {"app.cc"}, {}}, by_frame), 2u);
  Report by_shape = sample_report();
  EXPECT_EQ(apply_suppressions({{}, {}, {"00000000000000aa"}}, by_shape), 2u);
  EXPECT_THAT(parse_suppressions("type:A\ncolour:blue\n").status().message(),
              HasSubstr("line 2: unknown kind 'colour'"));
  EXPECT_THAT(parse_suppressions("type:\n").status().message(), HasSubstr("line 1: expected"));
}

}  // namespace
}  // namespace cyclegc::report

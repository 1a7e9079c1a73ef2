// The report schema's reader: what the agent writes reads back the same, and bad input gets one
// error that says what and where.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"
#include "report_factory.h"

namespace cyclegc::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Report sample_report() {
  Report r;
  r.process = {42,
               "/bin/app",
               "debug=leak",
               "frame-pointer",
               "exit",
               "2026-11-21T00:00:00Z",
               "std::shared_ptr"};
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

TEST(ReportJson, AReportOfCyclegcsOwnObjectsNamesNoHeap) {
  Report written = sample_report();
  written.process.heap.clear();
  const std::string text = to_json(written);
  EXPECT_THAT(text, Not(HasSubstr("\"heap\"")));  // older readers never see the field
  auto read = from_json(text);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->process.heap, "");
}

TEST(ReportJson, RoundTripsAndRebuildsWhatIsNotWritten) {
  auto read = from_json(to_json(sample_report()));
  ASSERT_TRUE(read.ok()) << read.status();
  const Report& r = *read;
  EXPECT_EQ(r.process.pid, 42);
  EXPECT_EQ(r.process.heap, "std::shared_ptr");
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
  newer.replace(newer.find("\"version\":2"), 11, "\"version\":9");
  EXPECT_THAT(from_json(newer).status().message(),
              HasSubstr("$.version: this tool reads versions 1 to 2, the report is version 9"));
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
              HasSubstr("not valid JSON at byte 5"));
}

// Labels are repr() text and type names come from the program: any bytes. What is not UTF-8 is
// written as U+FFFD, control characters as \u escapes, so the report stays valid JSON.
TEST(ReportJson, AnyBytesInAStringAreWrittenAsValidJson) {
  Report r = sample_report();
  r.objects[0].label = std::string("a\"b\\c\n\x01\xff\xc3(\xe2\x82\xac") + '\0';
  const std::string text = to_json(r);
  EXPECT_TRUE(nlohmann::json::accept(text));  // a strict UTF-8 parser accepts it
  auto read = from_json(text);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->objects[0].label,
            std::string("a\"b\\c\n\x01\xef\xbf\xbd\xef\xbf\xbd(\xe2\x82\xac") + '\0');
}

// The reader takes its input a megabyte at a time: a report of several megabytes, whose strings
// are full of escapes, has values, escapes and multi-byte characters cut at every piece boundary,
// and must read back exactly. Ids that are not positions are read as well.
TEST(ReportJson, ALargeReportReadsBackExactlyWhereverItsPiecesEnd) {
  for (bool shuffled : {false, true}) {
    Report r = testing::empty_report();
    testing::add_garbage_ring(r, 30000, 500);
    for (std::size_t i = 0; i < r.objects.size(); ++i) {
      r.objects[i].label =
          std::string(i % 97, i % 2 ? '"' : '\\') + "\xe2\x82\xac" + std::to_string(i);
    }
    if (shuffled) testing::shuffle_ids(r);
    const std::string text = to_json(r);
    ASSERT_GT(text.size(), std::size_t{3} << 20);
    auto read = from_json(text);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->objects.size(), r.objects.size());
    for (std::size_t i = 0; i < r.objects.size(); ++i) {
      ASSERT_EQ(read->objects[i].label, r.objects[i].label) << i;
      ASSERT_EQ(read->objects[i].id, r.objects[i].id) << i;
    }
    EXPECT_EQ(read->edges.size(), r.edges.size());
    EXPECT_EQ(read->cycles[0].edges.size(), 2 * 30000u);  // rebuilt
    EXPECT_EQ(to_json(*read), text);
  }
}

TEST(ReportJson, TheFirstByteThatCannotStartAReportFailsAtOnce) {
  EXPECT_THAT(from_json(std::string(1000, '\0')).status().message(),
              HasSubstr("not valid JSON at byte 0: expected '{', found byte 0x00"));
  EXPECT_THAT(from_json("  x").status().message(),
              HasSubstr("not valid JSON at byte 2: expected '{', found 'x'"));
  const std::string good = to_json(sample_report());
  EXPECT_THAT(from_json(good + "{}").status().message(), HasSubstr("more text after the report"));
  std::string twice = good;
  twice.insert(1, "\"edges\":[],");
  EXPECT_THAT(from_json(twice).status().message(), HasSubstr("'edges' is repeated"));
  std::string bad = good;
  bad.replace(bad.find("\"label\":\"Graph(two)\""), 20, "\"label\":tru");
  EXPECT_THAT(from_json(bad).status().message(), HasSubstr("not valid JSON at byte"));
}

TEST(ReportJson, SiteTextDropsOnlyTheParameterList) {
  EXPECT_EQ(site_text({"add_child(Ref<T> const&, std::string)", "/src/leaky_tree.cc", 25}),
            "add_child (leaky_tree.cc:25)");
  EXPECT_EQ(site_text({"(anonymous namespace)::Foo::Run() const", "a/b.cc", 3}),
            "(anonymous namespace)::Foo::Run (b.cc:3)");
  EXPECT_EQ(site_text({"", "", 0}), "??");
}

// Issue 14: stacks a person reads — the standard library's types as people write them.
TEST(ReportJson, ReadableSignaturesUseTheUsualStdSpellings) {
  EXPECT_EQ(
      readable_signature("add_child(cyclegc::Ref<TreeNode> const&, std::__cxx11::basic_string<"
                         "char, std::char_traits<char>, std::allocator<char> >)"),
      "add_child(cyclegc::Ref<TreeNode> const&, std::string)");
  EXPECT_EQ(readable_signature("f(std::basic_string_view<char, std::char_traits<char> >, "
                               "std::__cxx11::list<int, std::allocator<int> >&)"),
            "f(std::string_view, std::list<int, std::allocator<int> >&)");
  EXPECT_EQ(readable_signature("main"), "main");
}

// Issue 13/14: a factory template's demangled name begins with its return type, which made
// `cyclegc::Ref<Shape> make_shape<Circle>()` look like a frame of cyclegc's.
TEST(ReportJson, FunctionNameLeavesOutReturnTypeParametersAndQualifiers) {
  EXPECT_EQ(function_name("cyclegc::Ref<Shape> make_shape<Circle>(std::string const&)"),
            "make_shape<Circle>");
  EXPECT_EQ(function_name("std::pair<int, int> (anonymous namespace)::split<char>(int)"),
            "(anonymous namespace)::split<char>");
  EXPECT_EQ(function_name("(anonymous namespace)::Foo::Run() const"),
            "(anonymous namespace)::Foo::Run");
  EXPECT_EQ(function_name("cyclegc::detail::track(cyclegc::detail::ObjectHeader*)"),
            "cyclegc::detail::track");
  EXPECT_EQ(function_name("bool Foo::operator<(Foo const&) const"), "Foo::operator<");
  EXPECT_EQ(function_name("Foo::operator()(int)"), "Foo::operator()");
  EXPECT_EQ(function_name("Foo::operator bool() const"), "Foo::operator bool");
  EXPECT_EQ(function_name("main"), "main");
  EXPECT_EQ(function_name("cyclegc::Ref<T> f<T>(char const*) [clone .constprop.0] [clone .isra.0]"),
            "f<T>");
  EXPECT_EQ(site_text({"cyclegc::Ref<Shape> make_shape<Circle>(int)", "/s/shapes.cc", 9}),
            "make_shape<Circle> (shapes.cc:9)");
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

// The agent never harms its host: each test is an attack that once broke it (issue 12) — a
// signal it must not take, a file it must not read or replace, a fork, closed descriptors,
// unflushed output, reprs at exit, quadratic reports, processes that do not use cyclegc.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>

#include "agent_fixture.h"

namespace {

namespace fs = std::filesystem;
using cyclegc::testing::AgentTest;
using cyclegc::testing::ProgramRun;
using ::testing::HasSubstr;
using ::testing::Not;

class HostSafetyTest : public AgentTest {
 protected:
  // host_program under the agent, killed after `seconds` (a hang fails, it does not block).
  ProgramRun host(const std::string& args, const std::string& options, int seconds = 60) {
    return run("timeout -s KILL " + std::to_string(seconds) + " " CYCLEGC_HOST_PROGRAM, args,
               options);
  }
  std::string file(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }
};

// Signals whose default action the program relies on, or that cannot be caught, or that the
// runtime reserves: each is refused with one line that names it, and the fault still kills.
TEST_F(HostSafetyTest, UnsafeDumpSignalsAreRefusedWithOneLineEach) {
  for (const char* signal : {"11", "SIGSEGV", "BUS", "FPE", "ILL", "13", "PIPE", "9", "KILL", "19",
                             "STOP", "ABRT", "32", "33", "TRAP", "0x10"}) {
    ProgramRun r = host("cycle", std::string("report_path=none:dump_signal=") + signal);
    EXPECT_EQ(r.status, 0) << signal << r.output;
    EXPECT_THAT(r.output,
                HasSubstr(std::string("cyclegc: ignoring option 'dump_signal=") + signal + "'"))
        << r.output;
    EXPECT_EQ(count(r.output, "cyclegc: ignoring option 'dump_signal"), 1u) << r.output;
  }
}

TEST_F(HostSafetyTest, AFaultUnderDumpSignalElevenStillKillsTheProgramOnce) {
  const auto start = std::chrono::steady_clock::now();
  ProgramRun r = host("fault", "dump_signal=11:report_path=r.%n.json", 20);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15)) << "it looped";
  EXPECT_NE(r.status, 0);
  EXPECT_LE(count(r.output, "leaked objects"), 1u) << r.output.substr(0, 2000);
  EXPECT_FALSE(fs::exists(dir_ + "/r.1.json")) << "one report at most";
}

TEST_F(HostSafetyTest, AClosedPipeEndsTheProgramUnderDumpSignalThirteen) {
  ProgramRun r = host("print 10000000 | head -1", "dump_signal=13:report_path=r.%n.json", 30);
  EXPECT_THAT(r.output, HasSubstr("line 0"));
  EXPECT_FALSE(fs::exists(dir_ + "/r.1.json")) << "reports on every EPIPE";
}

// The program installs its own handler after the agent's: the program's wins.
TEST_F(HostSafetyTest, AHandlerTheProgramInstallsIsItsOwn) {
  ProgramRun r = host("own-handler", "dump_signal=USR1:report_path=r.%n.json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("program's handler ran: 1"));
  EXPECT_EQ(read_report("r.0.json").process.reason, "exit");
}

// An ignored signal (nohup, trap '' USR1) stays ignored: the agent does not take it.
TEST_F(HostSafetyTest, ASignalTheProgramIgnoresIsNotTaken) {
  ProgramRun r = run("sh -c \"trap '' USR1; exec " CYCLEGC_HOST_PROGRAM " raise 10\"", "",
                     "dump_signal=USR1:report_path=r.%n.json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("survived signal 10"));
  EXPECT_THAT(r.output, HasSubstr("dump_signal"));
  EXPECT_THAT(r.output, HasSubstr("the program ignores it"));
  EXPECT_EQ(read_report("r.0.json").process.reason, "exit") << "no report on the signal";
}

TEST_F(HostSafetyTest, SuppressionsAreReadOnlyFromBoundedRegularFiles) {
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  fs::create_directory(dir_ + "/dir");
  {
    std::ofstream bin(dir_ + "/binary");
    bin << "\x01\x02\x1b[31m\xff:x\n";
  }
  for (const std::string& path :
       {dir_ + "/fifo", std::string("/dev/zero"), dir_ + "/dir", dir_ + "/binary"}) {
    ProgramRun r = host("cycle", "report_path=none:suppressions=" + path, 20);
    EXPECT_EQ(r.status, 0) << path << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("main ran")) << path;
    EXPECT_THAT(r.output, HasSubstr("cyclegc: ignoring suppressions")) << path << r.output;
    for (char c : r.output) {
      EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << path << ": byte " << int(c);
    }
  }
}

TEST_F(HostSafetyTest, ForkedChildrenNeverHangWhileOtherThreadsAllocate) {
#if defined(__SANITIZE_ADDRESS__)
  // In the ASan tree 1 child of 60 hung, and that hang was not diagnosed. The likely cause is
  // GCC 12's sanitizer allocator, which does not survive a fork while other threads allocate
  // (see before_fork in collector_thread.cc). The normal build runs this test.
  GTEST_SKIP() << "ASan's allocator is not fork-safe while other threads allocate";
#endif
  ProgramRun r = host("fork-storm 60", "report_path=none:summary=0", 300);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("hung: 0 of 60"));
}

// The agent sets itself up when the process makes its first tracked object. A fork in the
// middle of that (another thread's first object) must not leave the child a lock nobody holds.
TEST_F(HostSafetyTest, AForkWhileTheAgentSetsItselfUpNeverHangsTheChild) {
  for (int run = 0; run < 5; ++run) {
    ProgramRun r = host("fork-at-activation 20", "report_path=none:summary=0", 120);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("hung: 0 of 20")) << "run " << run;
  }
}

// A daemon closes every descriptor and opens its own files: the agent writes into none of them,
// reads none, and does not spin.
TEST_F(HostSafetyTest, ADaemonsDescriptorsAreNeverTheAgents) {
  ProgramRun r = host("close-fds 10", "dump_signal=USR1:report_path=r.%n.json:summary=0");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("inputs intact: 4 of 4; outputs untouched: 4 of 4"));
  EXPECT_EQ(read_report("r.0.json").process.reason, "signal") << "the signal still works";
  EXPECT_FALSE(fs::exists(dir_ + "/r.5.json")) << "reports in a loop";
  r = host("close-fds 0", "interval_ms=20:report_path=r.%n.json:summary=0");
  EXPECT_THAT(r.output, HasSubstr("inputs intact: 4 of 4; outputs untouched: 4 of 4"));
  EXPECT_FALSE(fs::exists(dir_ + "/r.200.json")) << "reports in a loop";
}

TEST_F(HostSafetyTest, ExitcodeKeepsTheProgramsBufferedOutput) {
  ProgramRun r = host("unflushed", "exitcode=23:report_path=none");
  EXPECT_EQ(r.status, 23) << r.output;
  EXPECT_THAT(r.output, HasSubstr("stdout without a newline"));
  EXPECT_EQ(file("unflushed.txt"), "the program's last words");
}

// At exit a repr may throw, or read globals the program has destroyed: labels are taken while
// the program is alive, and an exception never leaves the agent.
TEST_F(HostSafetyTest, ReprsAtExitNeitherAbortNorReadDestroyedGlobals) {
  ProgramRun r = host("reprs", "report_path=r.json");
  EXPECT_EQ(r.status, 0) << r.output;
  auto report = read_report("r.json");
  bool saw_global = false, saw_throw = false;
  for (const auto& o : report.objects) {
    saw_global |= o.label == "ReadsGlobal(one)";
    saw_throw |= o.type.find("Throwing") != std::string::npos &&
                 o.label.find("repr failed") != std::string::npos;
  }
  EXPECT_TRUE(saw_global) << "labels come from the living program";
  EXPECT_TRUE(saw_throw) << "a throwing repr is reported as such";
}

// Linear reports: a 2-node cycle with a long tail, and a long doubly linked list.
TEST_F(HostSafetyTest, ALongTailOrRingMakesAReportLinearInItsLength) {
  ProgramRun r = host("tail 20000", "report_path=tail.json:summary=0", 60);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_LT(fs::file_size(dir_ + "/tail.json"), 20000u * 1000) << "under 1 kB an object";
  auto report = read_report("tail.json");
  EXPECT_EQ(report.objects.size(), 20002u);
  r = host("doubly-linked 100000", "report_path=ring.json:summary=0", 60);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_LT(fs::file_size(dir_ + "/ring.json"), 100000u * 1000);
}

TEST_F(HostSafetyTest, ProcessesThatDoNotUseCyclegcHearNothing) {
  ProgramRun r = run("sh -c 'echo hello | cat | wc -c'", "", "bogus=1:report_path=r.json");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "6\n");
  EXPECT_TRUE(files().empty());
}

// The agent binds to libcyclegc only in a process that loads it: it never drags the library
// (and its collector) into a shell or a test runner, nor fails to start where the library is
// not on the loader's path.
TEST_F(HostSafetyTest, AProcessThatDoesNotUseCyclegcNeverLoadsIt) {
  ProgramRun r = run("sh -c 'cat /proc/self/maps'", "", "verbosity=0");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("libcyclegc_agent.so"));  // the agent is there, idle
  EXPECT_THAT(r.output, Not(HasSubstr("libcyclegc.so")));
  EXPECT_THAT(r.output, Not(HasSubstr("libcyclegc_agent_core.so")));
}

TEST_F(HostSafetyTest, APluginLoadedWithDlopenIsObserved) {
  ProgramRun r = run(CYCLEGC_PLUGIN_HOST, CYCLEGC_PLUGIN, "report_path=r.json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("plugin ran"));
  EXPECT_THAT(r.output, Not(HasSubstr("statically")));
  auto report = read_report("r.json");
  EXPECT_EQ(report.cycles.size(), 1u);
}

// A process without cyclegc has its dump signal taken by the std::shared_ptr heap's reports;
// when a plugin brings libcyclegc.so, the signal is handed to the collector's agent, which
// writes on it: the signal neither kills the process nor is refused as the program's.
TEST_F(HostSafetyTest, TheDumpSignalPassesToTheCollectorsAgentWhenAPluginBringsIt) {
  ProgramRun r = run(std::string(CYCLEGC_PLUGIN_HOST) + " " + CYCLEGC_PLUGIN, "raise",
                     "dump_signal=USR1:summary=0:report_path=r.%n.json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("not taking dump_signal")));
  std::map<std::string, int> reasons;
  for (const std::string& name : files()) ++reasons[read_report(name).process.reason];
  EXPECT_EQ(reasons["signal"], 1);
  EXPECT_EQ(reasons["exit"], 1);
}

// The agent keeps the garbage of its own collections for its reports, without setting
// DEBUG_SAVEALL for everyone: a background collection that ran meanwhile would save the
// program's garbage too, which then stays for ever and is called uncollectable at shutdown.
TEST_F(HostSafetyTest, TheAgentsCollectionsLeaveTheProgramsDebugFlagsAlone) {
  ProgramRun r = host("watch-flags", "report_path=r.json:summary=0", 30);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("saw DEBUG_SAVEALL: no"));
  EXPECT_THAT(r.output, Not(HasSubstr("uncollectable objects at shutdown")));
  const auto report = read_report("r.json");
  EXPECT_EQ(report.collectable.size(), 2u);  // the second cycle's nodes, found by the agent
  EXPECT_TRUE(report.saved_garbage.empty());
}

// Only a regular file (or none) at the report path is replaced: a FIFO, a link or a directory
// stays what it was, with one error line.
TEST_F(HostSafetyTest, ReportPathsThatAreNotRegularFilesAreNeverReplaced) {
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  fs::create_symlink("/dev/null", dir_ + "/link");
  fs::create_directory(dir_ + "/dir");
  for (const char* name : {"fifo", "link", "dir"}) {
    ProgramRun r = host("cycle", std::string("report_path=") + dir_ + "/" + name, 20);
    EXPECT_EQ(r.status, 0) << name << r.output;
    EXPECT_THAT(r.output, HasSubstr("not a regular file")) << name << r.output;
  }
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(dir_ + "/fifo")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ + "/link")));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(dir_ + "/dir")));
}

// The agent's periodic snapshot while a thread grows a plain vector: containers are read only
// under a stop (a crash, or a sanitizer's report, otherwise).
TEST_F(HostSafetyTest, PeriodicReportsWhileAThreadGrowsAVector) {
  ProgramRun r = host("grow-vector 1500", "interval_ms=1:report_path=none:summary=1", 120);
  EXPECT_EQ(r.status, 0) << r.output.substr(0, 3000);
  EXPECT_THAT(r.output, HasSubstr("grew for 1500 ms"));
}

}  // namespace

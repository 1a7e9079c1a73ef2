// The agent tests' fixture: runs programs under LD_PRELOAD=libcyclegc_agent.so in a scratch
// directory and reads the reports they leave through the report schema's own reader.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cyclegc_report/report.h"
#include "subprocess.h"

namespace cyclegc::testing {

namespace fs = std::filesystem;

class AgentTest : public ::testing::Test {
 protected:
  // Runs `program args` in the test's directory, under the agent unless `with_agent` is false.
  ProgramRun run(const std::string& program, const std::string& args, const std::string& options,
                 bool with_agent = true) {
    // The leaky samples leak on purpose: LeakSanitizer, in the ASan build, must not fail them.
    std::string command = "cd '" + dir_ + "' && ASAN_OPTIONS=detect_leaks=0 ";
    if (with_agent) {
      command += "LD_PRELOAD='" + std::string(CYCLEGC_PRELOAD_PREFIX) + CYCLEGC_AGENT + "' ";
      command += "CYCLEGC_OPTIONS='" + options + "' ";
    }
    return run_shell(command + program + " " + args);
  }
  ProgramRun run_sample(const std::string& name, const std::string& args,
                        const std::string& options) {
    return run(std::string(CYCLEGC_SAMPLES_DIR) + "/" + name, args, options);
  }

  cyclegc::report::Report read_report(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = cyclegc::report::from_json(text.str());
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? *parsed : cyclegc::report::Report{};
  }

  std::vector<std::string> files() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir temp_;
  const std::string& dir_ = temp_.path();
};

}  // namespace cyclegc::testing

// Every ```cpp block of README.md is a complete translation unit: this test compiles each one, and
// links and runs those that have a main(), so the guide cannot drift from the library.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "subprocess.h"

namespace {

using cyclegc::testing::ProgramRun;
using cyclegc::testing::run_shell;

std::vector<std::string> cpp_blocks(const std::string& markdown_path) {
  std::ifstream in(markdown_path);
  std::vector<std::string> blocks;
  std::string line, current;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```cpp") {
      inside = true;
      current.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(current);
    } else if (inside) {
      current += line + "\n";
    }
  }
  return blocks;
}

TEST(Readme, EverySnippetCompilesAndTheProgramsRun) {
  const auto blocks = cpp_blocks(std::string(CYCLEGC_SOURCE_DIR) + "/README.md");
  ASSERT_GE(blocks.size(), 6u) << "the guide lost its examples";
  cyclegc::testing::TempDir dir;
  const std::string flags =
      std::string("-std=c++20 -Wall -Wextra -Werror -I") + CYCLEGC_SOURCE_DIR + "/lib/include";
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string source = dir.path() + "/snippet" + std::to_string(i) + ".cc";
    std::ofstream(source) << blocks[i];
    const bool is_gtest = blocks[i].find("cyclegc/gtest.h") != std::string::npos;
    const bool has_main = blocks[i].find("int main(") != std::string::npos;
    ProgramRun compiled = run_shell(std::string(CYCLEGC_CXX) + " " + flags + " -c " + source +
                                    " -o " + source + ".o");
    ASSERT_EQ(compiled.status, 0) << "README snippet " << i << ":\n"
                                  << blocks[i] << "\n"
                                  << compiled.output;
    if (!has_main || is_gtest) continue;  // the gtest example needs a suite to be worth running
    const std::string program = source + ".bin";
    ProgramRun linked =
        run_shell(std::string(CYCLEGC_CXX) + " " + source + ".o -o " + program + " -L" +
                  CYCLEGC_LIB_DIR + " -lcyclegc -Wl,-rpath," + CYCLEGC_LIB_DIR);
    ASSERT_EQ(linked.status, 0) << linked.output;
    ProgramRun ran = run_shell(program);
    EXPECT_EQ(ran.status, 0) << "README snippet " << i << " ran with status " << ran.status << ":\n"
                             << ran.output;
  }
}

}  // namespace

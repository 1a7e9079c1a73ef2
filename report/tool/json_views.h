// The JSON spellings of what several subcommands print with --format=json: fixes, edges, stacks.
// One spelling each, so that summary's fix and show's fix are read by one script.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "analysis.h"

namespace cyclegc::report {

nlohmann::json fixes_json(const std::vector<FixHint>& hints);
// {"from": 3, "to": 1, "label": "parent", "text": "TreeNode(para0).parent -> TreeNode(doc0)"}
nlohmann::json edge_json(const Analysis& a, const Edge& e);
// [{"function": ..., "file": ..., "line": ...}], outermost last; [] without a stack.
nlohmann::json stack_json(const Report& r, const Object& o);

}  // namespace cyclegc::report

#include "debug_fields.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cyclegc::agent {
namespace {

bool is_class(int tag) {
  return tag == DW_TAG_structure_type || tag == DW_TAG_class_type || tag == DW_TAG_union_type;
}

// The type a DIE's DW_AT_type names, through typedefs and cv-qualifiers.
bool type_of(Dwarf_Die* die, Dwarf_Die* out) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr ||
      dwarf_formref_die(&attr, out) == nullptr)
    return false;
  for (int hops = 0; hops < 16; ++hops) {
    const int tag = dwarf_tag(out);
    if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
      return true;
    Dwarf_Die next;
    if (dwarf_attr_integrate(out, DW_AT_type, &attr) == nullptr ||
        dwarf_formref_die(&attr, &next) == nullptr)
      return false;
    *out = next;
  }
  return false;
}

// "std::shared_ptr<Node>" for a class DIE, from the scopes that hold it; "" for a class inside
// a function (a local class, which no demangled control block names the same way).
std::string qualified_name(Dwarf_Die* die) {
  const char* own = dwarf_diename(die);
  if (own == nullptr) return "";
  Dwarf_Die* scopes = nullptr;
  const int n = dwarf_getscopes_die(die, &scopes);
  if (n <= 0) return own;
  std::string name;
  for (int i = n - 1; i >= 1; --i) {  // outermost first; scopes[0] is the DIE itself
    const int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_compile_unit || tag == DW_TAG_partial_unit || tag == DW_TAG_type_unit)
      continue;
    if (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block) {
      std::free(scopes);
      return "";
    }
    const char* part = dwarf_diename(&scopes[i]);
    absl::StrAppend(&name, part ? part : "(anonymous namespace)", "::");
  }
  std::free(scopes);
  return name + own;
}

Strength strength_named(const std::string& type) {
  const bool strong = absl::StrContains(type, "shared_ptr<");
  const bool weak = absl::StrContains(type, "weak_ptr<");
  if (strong && !weak) return Strength::kStrong;
  if (weak && !strong) return Strength::kWeak;
  return Strength::kUnknown;
}

std::uint64_t member_offset(Dwarf_Die* member) {
  Dwarf_Attribute attr;
  Dwarf_Word offset = 0;
  if (dwarf_attr_integrate(member, DW_AT_data_member_location, &attr) == nullptr ||
      dwarf_formudata(&attr, &offset) != 0)
    return 0;
  return offset;
}

std::uint64_t byte_size(Dwarf_Die* type) {
  const int size = dwarf_bytesize(type);
  if (size > 0) return static_cast<std::uint64_t>(size);
  return dwarf_tag(type) == DW_TAG_pointer_type ? sizeof(void*) : 0;
}

// The offset of the member named `name` in class `type`, through its bases and members, or -1.
std::int64_t find_member(Dwarf_Die* type, const char* name, int depth) {
  Dwarf_Die child;
  if (depth > 6 || dwarf_child(type, &child) != 0) return -1;
  do {
    const int tag = dwarf_tag(&child);
    if (tag != DW_TAG_member && tag != DW_TAG_inheritance) continue;
    if (tag == DW_TAG_member && !dwarf_hasattr(&child, DW_AT_data_member_location)) continue;
    const char* own = dwarf_diename(&child);
    const auto offset = static_cast<std::int64_t>(member_offset(&child));
    if (own != nullptr && std::strcmp(own, name) == 0) return offset;
    Dwarf_Die t;
    if (type_of(&child, &t) && is_class(dwarf_tag(&t))) {
      const std::int64_t inner = find_member(&t, name, depth + 1);
      if (inner >= 0) return offset + inner;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return -1;
}

// Appends `type`'s members at `base` to `out`, flattened (Field).
void flatten(Dwarf_Die* type, std::uint64_t base, const std::string& prefix,
             std::vector<Field>& out, int depth) {
  Dwarf_Die child;
  if (depth > 8 || dwarf_child(type, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    if (tag != DW_TAG_member && tag != DW_TAG_inheritance) continue;
    if (tag == DW_TAG_member && (dwarf_hasattr(&child, DW_AT_external) ||
                                 !dwarf_hasattr(&child, DW_AT_data_member_location))) {
      continue;  // static members live elsewhere
    }
    Dwarf_Die t;
    if (!type_of(&child, &t)) continue;
    const std::uint64_t offset = base + member_offset(&child);
    const char* own = dwarf_diename(&child);
    const std::string name =
        tag == DW_TAG_inheritance ? prefix : absl::StrCat(prefix, own ? own : "?");
    std::uint64_t element_size = 0;
    Dwarf_Die element = t;
    if (dwarf_tag(&t) == DW_TAG_array_type) {
      if (!type_of(&t, &element)) continue;
      element_size = byte_size(&element);
    }
    const std::string type_name = is_class(dwarf_tag(&element)) ? qualified_name(&element) : "";
    const bool library =
        absl::StartsWith(type_name, "std::") || absl::StartsWith(type_name, "__gnu_cxx::");
    if (is_class(dwarf_tag(&element)) && !library && element_size == 0) {
      flatten(&element, offset, tag == DW_TAG_inheritance ? prefix : name + ".", out, depth + 1);
      continue;
    }
    Field f;
    f.offset = offset;
    f.size = byte_size(&t);
    f.name = name.empty() ? "(base)" : name;
    f.strength = library ? strength_named(type_name) : Strength::kUnknown;
    f.element_size = element_size;
    if (library && (absl::StartsWith(type_name, "std::enable_shared_from_this<"))) {
      f.strength = Strength::kWeak;
    }
    if (element_size == 0 && absl::StartsWith(type_name, "std::optional<")) {
      f.engaged_at = find_member(&element, "_M_engaged", 0);  // libstdc++'s _Optional_payload
    }
    out.push_back(std::move(f));
  } while (dwarf_siblingof(&child, &child) == 0);
}

struct Search {
  const absl::flat_hash_set<std::string>* wanted;
  absl::flat_hash_map<std::string, TypeLayout>* found;
  absl::flat_hash_set<std::string>* ambiguous;
};

void search_scope(Dwarf_Die* scope, const std::string& prefix, Search& s, int depth) {
  Dwarf_Die child;
  if (depth > 16 || dwarf_child(scope, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    if (tag != DW_TAG_namespace && !is_class(tag)) continue;
    const char* own = dwarf_diename(&child);
    const std::string name = prefix + (own ? own : "(anonymous namespace)");
    if (is_class(tag) && own != nullptr && !dwarf_hasattr(&child, DW_AT_declaration) &&
        s.wanted->contains(name)) {
      TypeLayout layout;
      layout.size = byte_size(&child);
      flatten(&child, 0, "", layout.fields, 0);
      std::sort(layout.fields.begin(), layout.fields.end(),
                [](const Field& a, const Field& b) { return a.offset < b.offset; });
      auto [it, added] = s.found->try_emplace(name, layout);
      // One name, two layouts (an ODR violation, or two programs' worth of modules): trust
      // neither.
      if (!added &&
          (it->second.size != layout.size || it->second.fields.size() != layout.fields.size())) {
        s.ambiguous->insert(name);
      }
    }
    if (tag == DW_TAG_namespace || is_class(tag)) search_scope(&child, name + "::", s, depth + 1);
  } while (dwarf_siblingof(&child, &child) == 0);
}

int each_module(Dwfl_Module* module, void**, const char*, Dwarf_Addr, void* arg) {
  Dwarf_Addr bias = 0;
  Dwarf* dwarf = dwfl_module_getdwarf(module, &bias);
  if (dwarf == nullptr) return DWARF_CB_OK;
  auto& s = *static_cast<Search*>(arg);
  Dwarf_Off offset = 0, next = 0;
  std::size_t header = 0;
  while (dwarf_nextcu(dwarf, offset, &next, &header, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu;
    if (dwarf_offdie(dwarf, offset + header, &cu) != nullptr) search_scope(&cu, "", s, 0);
    offset = next;
  }
  return DWARF_CB_OK;
}

}  // namespace

const Field* TypeLayout::at(std::uint64_t offset) const {
  auto it = std::upper_bound(fields.begin(), fields.end(), offset,
                             [](std::uint64_t o, const Field& f) { return o < f.offset; });
  if (it == fields.begin()) return nullptr;
  --it;
  return offset < it->offset + std::max<std::uint64_t>(it->size, 1) ? &*it : nullptr;
}

std::unique_ptr<DebugFields> DebugFields::load(const std::vector<std::string>& types) {
  static const Dwfl_Callbacks callbacks = {dwfl_linux_proc_find_elf, dwfl_standard_find_debuginfo,
                                           nullptr, nullptr};
  Dwfl* dwfl = dwfl_begin(&callbacks);
  if (dwfl == nullptr) return nullptr;
  const absl::flat_hash_set<std::string> wanted(types.begin(), types.end());
  absl::flat_hash_set<std::string> ambiguous;
  auto fields = std::make_unique<DebugFields>();
  if (dwfl_linux_proc_report(dwfl, getpid()) == 0 && dwfl_report_end(dwfl, nullptr, nullptr) == 0) {
    Search s{&wanted, &fields->layouts_, &ambiguous};
    dwfl_getmodules(dwfl, each_module, &s, 0);
  }
  dwfl_end(dwfl);
  for (const std::string& name : ambiguous) fields->layouts_.erase(name);
  if (fields->layouts_.empty()) return nullptr;
  return fields;
}

const TypeLayout* DebugFields::layout(const std::string& type) const {
  auto it = layouts_.find(type);
  return it == layouts_.end() ? nullptr : &it->second;
}

}  // namespace cyclegc::agent

// cyclegc: reference-counted smart pointers with a cycle collector, after CPython's gc module.
//
//   struct Graph {
//     std::string name;
//     cyclegc::Ref<Graph> next;
//     void trace(cyclegc::Visitor& v) const { v("next", next); }
//   };
//   auto one = cyclegc::make<Graph>("one");
//   one->next = one;           // a cycle refcounting alone would leak
//   one = nullptr;
//   cyclegc::collect();        // returns 1: the cycle is found and freed
#pragma once

#include "cyclegc/any_ref.h"
#include "cyclegc/gc.h"
#include "cyclegc/guarded.h"
#include "cyclegc/make.h"
#include "cyclegc/mutator.h"
#include "cyclegc/object_header.h"
#include "cyclegc/ref.h"
#include "cyclegc/still_reachable.h"
#include "cyclegc/type_info.h"
#include "cyclegc/visitor.h"
#include "cyclegc/weak.h"

// Running a finalizer: once per object (PEP 442), whether the object dies by refcounting or is
// found in a cycle by the collector. An exception thrown by a finalizer is reported on stderr
// with the object, as CPython reports "Exception ignored in", and never propagates.
#pragma once

#include "cyclegc/object_header.h"

namespace cyclegc::detail {

// Runs the object's finalizer unless it has none or already ran. Returns whether it ran.
bool finalize_once(ObjectHeader* h) noexcept;

}  // namespace cyclegc::detail

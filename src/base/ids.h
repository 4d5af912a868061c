// Identifiers shared by several layers.
#pragma once

#include "base/strong_int.h"

namespace meridian {

struct GroupIdTag;
// A Raft group (one replicated unit: the coordination store, later each stream
// partition). Every node hosting a replica of the group uses the same id.
using GroupId = base::StrongInt<GroupIdTag>;

}  // namespace meridian

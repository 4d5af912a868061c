#include "sim/fault_set.h"

namespace meridian::sim {

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kDrop:
      return "drop";
    case Fault::kDup:
      return "dup";
    case Fault::kDelay:
      return "delay";
    case Fault::kPartition:
      return "partition";
    case Fault::kOneWay:
      return "oneway";
    case Fault::kCrash:
      return "crash";
    case Fault::kDisk:
      return "disk";
    case Fault::kMembership:
      return "membership";
    case Fault::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

base::Result<FaultSet> FaultSet::parse(std::string_view text) {
  if (text == "all") return all();
  if (text == "none" || text.empty()) return none();
  FaultSet set;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (name == "reorder") {
      set = set.with(Fault::kDelay);
      continue;
    }
    bool found = false;
    for (int k = 0; k < kFaultCount; ++k) {
      if (name == fault_name(static_cast<Fault>(k))) {
        set = set.with(static_cast<Fault>(k));
        found = true;
      }
    }
    if (!found) {
      return base::Status(base::Code::kInvalidArgument,
                          "unknown fault '" + std::string(name) +
                              "' (want all, none, or a list of drop, dup, delay, reorder, "
                              "partition, oneway, crash, disk, membership, snapshot)");
    }
  }
  return set;
}

std::string FaultSet::to_string() const {
  if (*this == all()) return "all";
  if (empty()) return "none";
  std::string out;
  for (int k = 0; k < kFaultCount; ++k) {
    if (!has(static_cast<Fault>(k))) continue;
    if (!out.empty()) out.push_back(',');
    out.append(fault_name(static_cast<Fault>(k)));
  }
  return out;
}

}  // namespace meridian::sim

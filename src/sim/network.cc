#include "sim/network.h"

#include "base/assert.h"

namespace meridian::sim {

uint64_t Network::slot(NodeId id) {
  MERIDIAN_ASSERT(id.value() >= 1 && id.value() <= kNodesMax, "node id out of range: ", id);
  return id.value();
}

uint64_t Network::delay(Rng& rng) const {
  uint64_t d = rng.range(faults_.delay_min_us, faults_.delay_max_us);
  if (faults_.slow_ppm > 0 && rng.chance_ppm(faults_.slow_ppm)) {
    d += rng.range(0, faults_.slow_max_us);
  }
  return d;
}

Delivery Network::plan(NodeId from, NodeId to, Rng& rng) const {
  Delivery d;
  if (cut(from, to)) {
    d.fate = Delivery::Fate::kCut;
    return d;
  }
  if (faults_.drop_ppm > 0 && rng.chance_ppm(faults_.drop_ppm)) {
    d.fate = Delivery::Fate::kDropped;
    return d;
  }
  d.copies = 1;
  d.delay_us[0] = delay(rng);
  if (faults_.dup_ppm > 0 && rng.chance_ppm(faults_.dup_ppm)) {
    d.copies = 2;
    d.delay_us[1] = delay(rng);
  }
  return d;
}

bool Network::any_cut() const {
  for (const auto& row : cuts_) {
    for (uint32_t c : row) {
      if (c > 0) return true;
    }
  }
  return false;
}

std::vector<Network::Link> Network::between(const std::vector<NodeId>& a,
                                            const std::vector<NodeId>& b) {
  std::vector<Link> links;
  for (NodeId x : a) {
    for (NodeId y : b) {
      links.emplace_back(x, y);
      links.emplace_back(y, x);
    }
  }
  return links;
}

void Network::add_cuts(const std::vector<Link>& links) {
  for (const auto& [from, to] : links) {
    MERIDIAN_ASSERT(from != to, "a node cannot be cut from itself: ", from);
    ++cuts_[slot(from)][slot(to)];
  }
}

void Network::remove_cuts(const std::vector<Link>& links) {
  for (const auto& [from, to] : links) {
    uint32_t& c = cuts_[slot(from)][slot(to)];
    MERIDIAN_ASSERT(c > 0, "removing a cut that is not there: n", from, " -> n", to);
    --c;
  }
}

void Network::heal() { cuts_ = {}; }

}  // namespace meridian::sim

// KeyRangeIndex<T>: a set of key ranges, each naming a T*, that answers "which
// ranges contain this key" in O(log n + matches): the watch hub keeps its range
// and prefix watchers here so that one event does not look at every watcher.
//
// A range is [start, end) in bytewise order, or [start, +inf) when `unbounded`
// (etcd's "from key" watches). The index stores views of the caller's strings:
// they must live, unchanged, while the entry is in the index. One entry per T*.
//
// Structure: a treap (a binary search tree ordered by (start, T*), heap-ordered
// by a random priority, so expected depth O(log n)) whose nodes also hold the
// largest end in their subtree; a stab query skips every subtree whose largest
// end is at or below the key, and every right subtree whose start is past it.
//
// Threads: none of its own; the caller serializes all calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "base/assert.h"

namespace meridian::kv {

template <class T>
class KeyRangeIndex {
 public:
  KeyRangeIndex() = default;
  KeyRangeIndex(const KeyRangeIndex&) = delete;
  KeyRangeIndex& operator=(const KeyRangeIndex&) = delete;

  void insert(T* value, std::string_view start, std::string_view end, bool unbounded) {
    auto node = std::make_unique<Node>(value, start, end, unbounded, next_priority());
    auto [left, right] = split(std::move(root_), start, value);
    root_ = merge(merge(std::move(left), std::move(node)), std::move(right));
    ++size_;
  }

  // `start` must be the one given to insert(). Returns false if absent.
  bool erase(T* value, std::string_view start) {
    auto [left, rest] = split(std::move(root_), start, value);
    // `rest` begins with the entry itself if present: split off everything
    // after it (the next pointer value under the same start).
    bool found = false;
    if (rest != nullptr) {
      auto [middle, right] = split_after(std::move(rest), start, value);
      found = middle != nullptr;
      MERIDIAN_ASSERT(middle == nullptr || (middle->left == nullptr && middle->right == nullptr),
                      "more than one entry for one value");
      rest = std::move(right);
    }
    root_ = merge(std::move(left), std::move(rest));
    if (found) --size_;
    return found;
  }

  // Calls fn(T*) for every range containing `key`, in no particular order.
  template <class Fn>
  void stab(std::string_view key, Fn&& fn) const {
    stab(root_.get(), key, fn);
  }

  size_t size() const { return size_; }

 private:
  struct Node {
    Node(T* v, std::string_view s, std::string_view e, bool unb, uint64_t p)
        : value(v), start(s), end(e), unbounded(unb), priority(p) {
      max_end = end;
      max_unbounded = unbounded;
    }
    T* value;
    std::string_view start, end;
    bool unbounded;
    uint64_t priority;
    std::string_view max_end;  // largest end in this subtree
    bool max_unbounded;        // some range in this subtree has no end
    std::unique_ptr<Node> left, right;
  };
  using Ptr = std::unique_ptr<Node>;

  // Orders entries by start, then by pointer (so equal starts stay distinct).
  static bool less(std::string_view s1, const T* v1, std::string_view s2, const T* v2) {
    if (s1 != s2) return s1 < s2;
    return std::less<const T*>()(v1, v2);
  }

  static void update(Node* n) {
    n->max_end = n->end;
    n->max_unbounded = n->unbounded;
    for (const Node* c : {n->left.get(), n->right.get()}) {
      if (c == nullptr) continue;
      n->max_unbounded = n->max_unbounded || c->max_unbounded;
      if (c->max_end > n->max_end) n->max_end = c->max_end;
    }
  }

  // (entries < (start, value), entries >= (start, value))
  static std::pair<Ptr, Ptr> split(Ptr n, std::string_view start, const T* value) {
    if (n == nullptr) return {nullptr, nullptr};
    if (less(n->start, n->value, start, value)) {
      auto [l, r] = split(std::move(n->right), start, value);
      n->right = std::move(l);
      update(n.get());
      return {std::move(n), std::move(r)};
    }
    auto [l, r] = split(std::move(n->left), start, value);
    n->left = std::move(r);
    update(n.get());
    return {std::move(l), std::move(n)};
  }

  // (entries <= (start, value), entries > (start, value))
  static std::pair<Ptr, Ptr> split_after(Ptr n, std::string_view start, const T* value) {
    if (n == nullptr) return {nullptr, nullptr};
    if (!less(start, value, n->start, n->value)) {
      auto [l, r] = split_after(std::move(n->right), start, value);
      n->right = std::move(l);
      update(n.get());
      return {std::move(n), std::move(r)};
    }
    auto [l, r] = split_after(std::move(n->left), start, value);
    n->left = std::move(r);
    update(n.get());
    return {std::move(l), std::move(n)};
  }

  // Every entry of `a` orders before every entry of `b`.
  static Ptr merge(Ptr a, Ptr b) {
    if (a == nullptr) return b;
    if (b == nullptr) return a;
    if (a->priority > b->priority) {
      a->right = merge(std::move(a->right), std::move(b));
      update(a.get());
      return a;
    }
    b->left = merge(std::move(a), std::move(b->left));
    update(b.get());
    return b;
  }

  template <class Fn>
  static void stab(const Node* n, std::string_view key, Fn& fn) {
    while (n != nullptr) {
      if (!n->max_unbounded && n->max_end <= key) return;  // nothing here reaches key
      stab(n->left.get(), key, fn);
      if (n->start > key) return;  // this and everything to the right start past key
      if (n->unbounded || key < n->end) fn(n->value);
      n = n->right.get();
    }
  }

  // splitmix64: priorities need only be well spread, not secret.
  uint64_t next_priority() {
    uint64_t z = (seed_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  Ptr root_;
  size_t size_ = 0;
  uint64_t seed_ = 0x5eed;
};

}  // namespace meridian::kv

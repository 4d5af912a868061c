// FaultyFileSystem: an in-memory FileSystem with the crash semantics of a real
// disk and a page cache, and injectable faults. Deterministic: every choice comes
// from the seed. Used by storage unit tests and by the simulator, so a simulated
// crash loses exactly what a real one could.
//
// Model. Each file has volatile content (what reads see) and durable content (what
// survives a crash). File::sync() makes the file's volatile content durable. Each
// directory has volatile and durable entry tables; sync_dir() makes the table
// durable (creations, renames, removals). crash() then rebuilds every file and
// directory from durable state, except that for each file the unsynced appends may
// partly survive: a prefix of them, possibly with the last one torn (cut short) —
// what a kernel that wrote back some dirty pages in order would leave. Unsynced
// truncations are lost (the file comes back at its durable length... extended by
// any surviving appends).
//
// Faults, all off by default:
//   - fail_after_writes(n): the n-th append from now (1-based) fails with kIoError,
//     after writing a random prefix of its data (a torn write);
//   - set_space_bytes(n): total stored bytes may not exceed n; an append that would
//     fails with kNoSpace after writing what fits;
//   - fail_syncs(true): every sync fails with kIoError and makes nothing durable;
//   - crash_at_write(n): the n-th append from now crashes the machine (crash()) in
//     the middle of it; every later call fails with kIoError until restart().
// Single-threaded (tests and the simulator drive it from one thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "storage/file_system.h"

namespace meridian::storage {

class FaultyFileSystem final : public FileSystem {
 public:
  explicit FaultyFileSystem(uint64_t seed);
  ~FaultyFileSystem() override;

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  bool exists(const std::string& path) override;

  // Power loss now. Open File objects become dead (every call fails with kIoError).
  // `keep_unsynced_fraction` in [0, 1]: the chance that each file keeps a prefix of its
  // unsynced appends rather than none (the prefix length is then chosen at random).
  void crash(double keep_unsynced_fraction = 0.5);
  // After crash_at_write fired: the machine is back (state is what crash() left).
  void restart();
  bool crashed() const;

  void fail_after_writes(uint64_t n);
  void set_space_bytes(uint64_t n);  // UINT64_MAX: unlimited
  void fail_syncs(bool on);
  void crash_at_write(uint64_t n, double keep_unsynced_fraction = 0.5);

  uint64_t syncs() const;  // successful File::sync calls so far
  uint64_t bytes_written() const;
  uint64_t stored_bytes() const;  // volatile bytes of all files

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace meridian::storage

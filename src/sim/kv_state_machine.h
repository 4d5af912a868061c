// KvStateMachine: the simulator's replicated test application, a string -> string
// map updated by client commands carried in Raft entries, plus the codecs of
// those commands and of the map's snapshots.
//
// Every node applies the same committed entries in the same order, so every
// node's map passes through the same states. Each client has at most one
// request outstanding and numbers its requests in increasing order, so the map
// keeps, per client, the highest request id applied and skips any entry whose id
// is not above it: a duplicated forwarded proposal, or a request that timed out
// and was overtaken by the client's next one, never takes effect twice or late.
// Reads do not go through the log (they use ReadIndex), so there is no Get command.
//
// Owned by one SimNode; single-threaded. Formats (little-endian, strings as a u32
// length then bytes):
//   command  := version:u8=1 client:u32 request:u64 op:u8 key:str value:str expected:str
//   snapshot := version:u8=1 applied:u64 n:u32 (key:str value:str)*n
//               m:u32 (client:u32 last_request:u64)*m
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::sim {

enum class CommandOp : uint8_t { kPut = 1, kCas = 2 };

struct Command {
  uint32_t client = 0;
  uint64_t request = 0;
  CommandOp op = CommandOp::kPut;
  std::string key;
  std::string value;     // kPut: the value; kCas: the new value
  std::string expected;  // kCas only
};

std::string encode_command(const Command& c);
// nullopt if the bytes are not a well-formed command of a known version.
std::optional<Command> decode_command(std::string_view data);

struct ApplyResult {
  bool applied = false;  // false: a duplicate or overtaken request, skipped
  bool ok = false;       // kCas: whether the comparison held; kPut: true
};

class KvStateMachine {
 public:
  ApplyResult apply(const Command& c);
  // The value of key, "" if absent (the checker's model reads absent as "").
  std::string get(const std::string& key) const;

  std::string snapshot(uint64_t applied_index) const;
  // Replaces the state with a snapshot taken at applied_index; false (and the
  // state unchanged) if the data is malformed or was taken at another index.
  bool restore(std::string_view data, uint64_t applied_index);

  size_t size() const { return map_.size(); }

 private:
  std::map<std::string, std::string> map_;
  std::map<uint32_t, uint64_t> last_request_;  // client -> highest request applied
};

}  // namespace meridian::sim

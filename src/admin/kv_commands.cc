#include "admin/kv_commands.h"

#include "kv/command.h"
#include "kv/kv_state_machine.h"
#include "node/map_state_machine.h"

namespace meridian::admin {

std::optional<MachineKind> machine_kind(const node::StateMachine& sm) {
  if (dynamic_cast<const kv::KvStateMachine*>(&sm) != nullptr) return MachineKind::kKv;
  if (dynamic_cast<const node::MapStateMachine*>(&sm) != nullptr) return MachineKind::kMap;
  return std::nullopt;
}

std::string put_command(MachineKind kind, std::string_view key, std::string_view value) {
  if (kind == MachineKind::kMap) return node::encode_put(key, value);
  etcdserverpb::PutRequest req;
  req.set_key(std::string(key));
  req.set_value(std::string(value));
  return kv::encode_command(kv::CommandType::kPut, req.SerializeAsString());
}

std::string delete_command(MachineKind kind, std::string_view key) {
  if (kind == MachineKind::kMap) return node::encode_delete(key);
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(std::string(key));
  return kv::encode_command(kv::CommandType::kDeleteRange, req.SerializeAsString());
}

base::Result<WriteOutcome> decode_write(MachineKind kind, bool is_put, std::string_view result) {
  if (kind == MachineKind::kMap) return WriteOutcome{.deleted = result == "deleted"};
  auto r = kv::decode_result(result);
  if (!r) return base::Status(base::Code::kCorruption, "the store's answer does not decode");
  if (r->errc != kv::Errc::kOk) {
    return base::Status(base::Code::kFailedPrecondition, kv::errc_message(r->errc));
  }
  if (is_put) {
    etcdserverpb::PutResponse resp;
    if (!resp.ParseFromArray(r->response.data(), static_cast<int>(r->response.size()))) {
      return base::Status(base::Code::kCorruption, "the store's answer does not decode");
    }
    return WriteOutcome{.revision = resp.header().revision()};
  }
  etcdserverpb::DeleteRangeResponse resp;
  if (!resp.ParseFromArray(r->response.data(), static_cast<int>(r->response.size()))) {
    return base::Status(base::Code::kCorruption, "the store's answer does not decode");
  }
  return WriteOutcome{.deleted = resp.deleted() > 0, .revision = resp.header().revision()};
}

std::optional<std::string> read_value(const node::StateMachine& sm, const std::string& key) {
  if (const auto* map = dynamic_cast<const node::MapStateMachine*>(&sm)) return map->get(key);
  const auto* kv = dynamic_cast<const kv::KvStateMachine*>(&sm);
  if (kv == nullptr) return std::nullopt;
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  etcdserverpb::RangeResponse resp;
  if (kv->store().range(req, &resp) != kv::Errc::kOk || resp.kvs_size() == 0) return std::nullopt;
  return resp.kvs(0).value();
}

}  // namespace meridian::admin

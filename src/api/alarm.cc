#include "api/alarm.h"

#include "api/grpc_errors.h"
#include "api/response_header.h"
#include "base/strings.h"
#include "kv/command.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;

std::vector<std::string> alarm_errors(const kv::MvccStore& store) {
  std::vector<std::string> out;
  for (const pb::AlarmMember& a : store.alarms()) {
    out.push_back(
        base::cat("memberID:", a.memberid(), " alarm:", pb::AlarmType_Name(a.alarm()), " "));
  }
  return out;
}

void serve_alarm(const EtcdBackend& backend, std::shared_ptr<rpc::UnaryCall> call) {
  pb::AlarmRequest req;
  const std::string_view bytes = call->request();
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    call->finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
    return;
  }
  if (req.action() == pb::AlarmRequest::GET) {
    pb::AlarmResponse resp;
    for (const pb::AlarmMember& a : backend.kv->store().alarms()) {
      if (req.memberid() != 0 && a.memberid() != req.memberid()) continue;
      if (req.alarm() != pb::AlarmType::NONE && a.alarm() != req.alarm()) continue;
      *resp.add_alarms() = a;
    }
    fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
    call->finish({}, resp.SerializeAsString());
    return;
  }
  backend.node->propose(
      backend.group, kv::encode_command(kv::CommandType::kAlarm, req.SerializeAsString()),
      [backend, call](base::Result<node::ProposeResult> r) {
        if (!r.is_ok()) return call->finish(node_status(r.status()), {});
        const std::optional<kv::CommandResult> result = kv::decode_result(r.value().result);
        pb::AlarmResponse resp;
        if (!result || result->errc != kv::Errc::kOk ||
            !resp.ParseFromArray(result->response.data(),
                                 static_cast<int>(result->response.size()))) {
          return call->finish(kv_status(result ? result->errc : kv::Errc::kCorrupt), {});
        }
        fill_header(resp.mutable_header(), backend, resp.header().revision());
        call->finish({}, resp.SerializeAsString());
      });
}

}  // namespace meridian::api

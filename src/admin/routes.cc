#include "admin/routes.h"

#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "admin/kv_commands.h"
#include "raft/types.h"

namespace meridian::admin {
namespace {

using nlohmann::json;

constexpr GroupId kDefaultGroup{1};
constexpr char kKvPrefix[] = "/v1/kv/";
constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Keys and messages may hold any bytes; invalid UTF-8 becomes U+FFFD instead of
// throwing (nlohmann's default).
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

HttpResponse error_response(int status, const std::string& message, base::Code code) {
  return json_response(status, dump({{"error", message}, {"code", base::code_name(code)}}));
}

// Expected failures as HTTP: retry-later ones 503, the caller's mistakes 400.
HttpResponse error_response(const base::Status& s) {
  int status = 500;
  switch (s.code()) {
    case base::Code::kNotLeader:
    case base::Code::kProposalDropped:
    case base::Code::kUnavailable:
    case base::Code::kNoSpace:
      status = 503;
      break;
    case base::Code::kInvalidArgument:
      status = 400;
      break;
    case base::Code::kNotFound:
      status = 404;
      break;
    default:
      break;
  }
  return error_response(status, s.message(), s.code());
}

HttpResponse bad_request(const std::string& message) {
  return error_response(400, message, base::Code::kInvalidArgument);
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// ?group=N (default 1); nullopt if present but not a positive number.
std::optional<GroupId> group_param(const HttpRequest& req) {
  const auto it = req.query.find("group");
  if (it == req.query.end()) return kDefaultGroup;
  const auto v = parse_u64(it->second);
  if (!v || *v == 0) return std::nullopt;
  return GroupId(*v);
}

std::optional<std::string> kv_key(const HttpRequest& req) {
  auto key = percent_decode(std::string_view(req.path).substr(sizeof(kKvPrefix) - 1));
  if (!key || key->empty()) return std::nullopt;
  return key;
}

json ids(const std::vector<raft::NodeId>& v) {
  json a = json::array();
  for (const auto id : v) a.push_back(id.value());
  return a;
}

json group_json(const node::GroupStatus& g) {
  json j = {
      {"group", g.group.value()},
      {"role", raft::role_name(g.role)},
      {"term", g.term.value()},
      {"leader", g.leader.value()},
      {"commit", g.commit.value()},
      {"applied", g.applied.value()},
      {"first_index", g.first_index.value()},
      {"last_index", g.last_index.value()},
      {"snapshot_index", g.snapshot_index.value()},
      {"members",
       {{"voters", ids(g.conf_state.voters)},
        {"voters_outgoing", ids(g.conf_state.voters_outgoing)},
        {"learners", ids(g.conf_state.learners)},
        {"learners_next", ids(g.conf_state.learners_next)}}},
      {"leader_changes", g.leader_changes},
      {"proposals_committed", g.proposals_committed},
      {"proposals_failed", g.proposals_failed},
      {"snapshots_sent", g.snapshots_sent},
      {"snapshots_received", g.snapshots_received},
      {"snapshots_taken", g.snapshots_taken},
      {"pending_proposals", g.pending_proposals},
      {"pending_reads", g.pending_reads},
      {"read_rounds", g.read_rounds},
  };
  if (g.role == raft::Role::kLeader) {
    json match = json::array();
    for (const auto& [id, index] : g.match) {
      match.push_back({{"node", id.value()}, {"match", index.value()}});
    }
    j["match"] = std::move(match);
  }
  return j;
}

HttpResponse status_response(const node::NodeStatus& st) {
  json groups = json::array();
  for (const auto& g : st.groups) groups.push_back(group_json(g));
  const json j = {
      {"node", st.id.value()},
      {"cluster_id", st.cluster_id},
      {"cluster_token", st.cluster_token},
      {"stopping", st.stopping},
      {"storage_failed", st.storage_failed},
      {"no_space", st.no_space},
      {"journal_bytes", st.journal_bytes},
      {"groups", std::move(groups)},
  };
  return json_response(200, dump(j));
}

// Scrape-time metrics from Node::status() (see routes.h for the names).
void collect_node_metrics(const node::Node& node, observe::Collector& c) {
  const node::NodeStatus st = node.status();
  for (const auto& g : st.groups) {
    const observe::Labels l{{"group", std::to_string(g.group.value())}};
    const auto d = [](uint64_t v) { return static_cast<double>(v); };
    c.gauge("meridian_raft_term", "Current Raft term.", l, d(g.term.value()));
    c.gauge("meridian_raft_is_leader", "1 if this node leads the group, else 0.", l,
            g.role == raft::Role::kLeader ? 1 : 0);
    c.gauge("meridian_raft_role", "Raft role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader.",
            l, static_cast<double>(static_cast<uint8_t>(g.role)));
    c.gauge("meridian_raft_leader_id", "Node id of the known leader (0: none).", l,
            d(g.leader.value()));
    c.gauge("meridian_raft_commit_index", "Highest log index known committed.", l,
            d(g.commit.value()));
    c.gauge("meridian_raft_applied_index", "Highest log index applied here.", l,
            d(g.applied.value()));
    c.gauge("meridian_raft_apply_lag", "Committed entries not yet applied here.", l,
            g.commit > g.applied ? d(g.commit - g.applied) : 0);
    c.gauge("meridian_raft_last_index", "Last index of the local log.", l, d(g.last_index.value()));
    c.gauge("meridian_raft_snapshot_index", "Index of the latest snapshot.", l,
            d(g.snapshot_index.value()));
    c.counter("meridian_raft_leader_changes_total", "Times the known leader changed.", l,
              d(g.leader_changes));
    c.counter("meridian_raft_proposals_committed_total",
              "Proposals made through this node and applied.", l, d(g.proposals_committed));
    c.counter("meridian_raft_proposals_failed_total",
              "Proposals made through this node that failed.", l, d(g.proposals_failed));
    c.gauge("meridian_raft_pending_proposals", "Proposals waiting to be applied.", l,
            d(g.pending_proposals));
    c.gauge("meridian_raft_pending_reads", "Reads waiting for their read index.", l,
            d(g.pending_reads));
    c.counter("meridian_raft_read_rounds_total",
              "ReadIndex rounds asked; each serves every linearizable read waiting for it.", l,
              d(g.read_rounds));
    c.counter("meridian_raft_snapshots_sent_total", "Snapshots sent to followers.", l,
              d(g.snapshots_sent));
    c.counter("meridian_raft_snapshots_received_total", "Snapshots received from a leader.", l,
              d(g.snapshots_received));
    c.counter("meridian_raft_snapshots_taken_total", "Snapshots taken of the state machine.", l,
              d(g.snapshots_taken));
  }
  c.gauge("meridian_node_journal_bytes", "Bytes in the journal's segments.", {},
          static_cast<double>(st.journal_bytes));
  c.counter("meridian_node_journal_syncs_total", "Journal fsyncs (group commit rounds).", {},
            static_cast<double>(st.journal_syncs));
  c.gauge("meridian_node_raft_queue_depth", "Tasks posted to the raft thread, not yet run.", {},
          static_cast<double>(st.raft_queue_depth));
  c.gauge("meridian_node_commit_queue_depth", "Batches handed to group commit, not yet durable.",
          {}, static_cast<double>(st.commit_queue_depth));
  c.gauge("meridian_node_storage_failed", "1 if the node's storage failed, else 0.", {},
          st.storage_failed ? 1 : 0);
  c.gauge("meridian_node_no_space", "1 while the disk is full (writes stall), else 0.", {},
          st.no_space ? 1 : 0);
  c.gauge("meridian_process_resident_memory_bytes", "Resident set size of the process.", {},
          static_cast<double>(observe::process_rss_bytes()));
}

// Removes the collector when the last route holding it goes (with the server).
class CollectorRegistration {
 public:
  CollectorRegistration(observe::Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  ~CollectorRegistration() { registry_->remove_collector(id_); }
  CollectorRegistration(const CollectorRegistration&) = delete;
  CollectorRegistration& operator=(const CollectorRegistration&) = delete;

 private:
  observe::Registry* registry_;
  uint64_t id_;
};

HttpResponse not_a_map(GroupId group) {
  return bad_request("group " + std::to_string(group.value()) + " does not host a key-value store");
}

void install_kv_routes(HttpServer* server, node::Node* node) {
  // PUT and DELETE: replicated through the group; answered once applied here.
  // The group's kind of state machine is asked first (a local read), since the
  // etcd store and the plain map take different commands.
  const auto write = [node](bool is_put) {
    return [node, is_put](const HttpRequest& req, const Reply& reply) {
      const auto group = group_param(req);
      const auto key = kv_key(req);
      if (!group) return reply(bad_request("group must be a positive number"));
      if (!key) return reply(bad_request("the key is empty or badly percent-encoded"));
      auto kind_of = [](const node::StateMachine& sm) -> std::string {
        const auto kind = machine_kind(sm);
        return kind ? std::string(1, static_cast<char>(*kind)) : std::string();
      };
      node->read(*group, false, kind_of,
                 [node, reply, is_put, group = *group, key = *key,
                  value = req.body](base::Result<std::string> kind_text) {
                   if (!kind_text.is_ok()) return reply(error_response(kind_text.status()));
                   if (kind_text.value().empty()) return reply(not_a_map(group));
                   const auto kind = static_cast<MachineKind>(kind_text.value()[0]);
                   std::string command =
                       is_put ? put_command(kind, key, value) : delete_command(kind, key);
                   node->propose(group, std::move(command),
                                 [reply, is_put, kind](base::Result<node::ProposeResult> r) {
                                   if (!r.is_ok()) return reply(error_response(r.status()));
                                   auto outcome = decode_write(kind, is_put, r.value().result);
                                   if (!outcome.is_ok())
                                     return reply(bad_request(outcome.status().message()));
                                   json j = {{"index", r.value().index.value()}};
                                   if (kind == MachineKind::kKv)
                                     j["revision"] = outcome.value().revision;
                                   if (!is_put) j["deleted"] = outcome.value().deleted;
                                   reply(json_response(200, dump(j)));
                                 });
                 });
    };
  };
  server->route_prefix("PUT", kKvPrefix, write(true));
  server->route_prefix("DELETE", kKvPrefix, write(false));

  server->route_prefix("GET", kKvPrefix, [node](const HttpRequest& req, const Reply& reply) {
    const auto group = group_param(req);
    const auto key = kv_key(req);
    if (!group) return reply(bad_request("group must be a positive number"));
    if (!key) return reply(bad_request("the key is empty or badly percent-encoded"));
    const auto s = req.query.find("serializable");
    const bool serializable = s != req.query.end() && (s->second == "1" || s->second == "true");
    // The query's answer: "" absent, "=" + value present, "!" no key-value machine.
    auto query = [key = *key](const node::StateMachine& sm) -> std::string {
      if (!machine_kind(sm)) return "!";
      const auto v = read_value(sm, key);
      return v ? "=" + *v : "";
    };
    node->read(*group, !serializable, std::move(query),
               [reply, group = *group](base::Result<std::string> r) {
                 if (!r.is_ok()) return reply(error_response(r.status()));
                 const std::string& v = r.value();
                 if (v.empty()) {
                   return reply(error_response(404, "key not found", base::Code::kNotFound));
                 }
                 if (v[0] == '!') return reply(not_a_map(group));
                 reply({.content_type = "application/octet-stream", .body = v.substr(1)});
               });
  });
}

}  // namespace

void install_routes(HttpServer* server, node::Node* node, observe::Registry* registry) {
  const uint64_t collector =
      registry->add_collector([node](observe::Collector& c) { collect_node_metrics(*node, c); });
  auto registration = std::make_shared<CollectorRegistration>(registry, collector);
  server->route("GET", "/metrics",
                [registry, registration](const HttpRequest&, const Reply& reply) {
                  reply({.content_type = kMetricsContentType, .body = registry->render()});
                });

  server->route("GET", "/health", [node](const HttpRequest&, const Reply& reply) {
    const node::NodeStatus st = node->status();
    if (st.storage_failed) return reply({.status = 503, .body = "storage failed"});
    if (st.stopping || node->stopped()) return reply({.status = 503, .body = "stopping"});
    reply({.body = "ok"});
  });

  server->route("GET", "/ready", [node](const HttpRequest&, const Reply& reply) {
    if (node->ready()) return reply({.body = "ready"});
    reply({.status = 503, .body = "not ready"});
  });

  server->route("GET", "/v1/status", [node](const HttpRequest&, const Reply& reply) {
    reply(status_response(node->status()));
  });

  install_kv_routes(server, node);

  server->route("POST", "/v1/transfer-leader", [node](const HttpRequest& req, const Reply& reply) {
    const auto group = group_param(req);
    const auto it = req.query.find("to");
    const uint64_t to = it == req.query.end() ? 0 : parse_u64(it->second).value_or(0);
    if (!group) return reply(bad_request("group must be a positive number"));
    if (to == 0) return reply(bad_request("to=N (a member's node id) is required"));
    bool hosted = false;
    for (const auto& g : node->status().groups) hosted = hosted || g.group == *group;
    if (!hosted) {
      return reply(
          error_response(404, "no group " + std::to_string(group->value()), base::Code::kNotFound));
    }
    node->transfer_leader(*group, raft::NodeId(to));
    reply(json_response(202, dump({{"group", group->value()}, {"to", to}})));
  });
}

}  // namespace meridian::admin

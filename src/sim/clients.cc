#include "sim/clients.h"

#include <charconv>
#include <utility>

#include "base/assert.h"

namespace meridian::sim {

using raft::NodeId;

namespace {

// "<client>:<request>" identifies a read; a trailing ":<attempt>" keeps the
// contexts of retried attempts distinct at the leader.
std::string read_context(uint32_t client, uint64_t request, uint32_t attempt) {
  return cat(client, ":", request, ":", attempt);
}

bool parse_read_context(const std::string& ctx, uint32_t& client, uint64_t& request) {
  const char* p = ctx.data();
  const char* end = ctx.data() + ctx.size();
  auto r1 = std::from_chars(p, end, client);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ':') return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, request);
  return r2.ec == std::errc();
}

const char* kind_name(OpKind k) {
  switch (k) {
    case OpKind::kPut:
      return "put";
    case OpKind::kGet:
      return "get";
    case OpKind::kCas:
      return "cas";
  }
  return "?";
}

}  // namespace

Clients::Clients(Cluster& cluster, const ClientParams& params)
    : cluster_(cluster), params_(params) {
  MERIDIAN_ASSERT(params_.clients >= 1 && params_.keys >= 1, "clients ", params_.clients, " keys ",
                  params_.keys);
  for (int k = 0; k <= params_.clients; ++k) {
    Client c;
    c.id = static_cast<uint32_t>(k + 1);
    c.probe = k == params_.clients;
    clients_.push_back(c);
  }
}

Clients::Client& Clients::client(uint32_t id) {
  MERIDIAN_ASSERT(id >= 1 && id <= clients_.size(), "no client ", id);
  return clients_[id - 1];
}

bool Clients::idle() const {
  for (const Client& c : clients_) {
    if (c.busy) return false;
  }
  return true;
}

void Clients::start() {
  for (Client& c : clients_) {
    if (!c.probe)
      schedule_next(c, cluster_.rng().range(params_.think_min_us, params_.think_max_us));
  }
}

void Clients::start_probe() {
  Client& probe = clients_.back();
  if (!probe.busy) schedule_next(probe, 0);
}

void Clients::schedule_next(Client& c, uint64_t delay_us) {
  const uint32_t id = c.id;
  cluster_.events().after(delay_us, [this, id] { issue(id); });
}

Operation Clients::make_op(const Client& c) {
  Operation op;
  op.id = history_.size();
  op.client = c.id;
  op.call_time = cluster_.now().value();
  op.outcome = Outcome::kUnknown;
  Rng& rng = cluster_.rng();
  const uint64_t key = c.probe ? 0 : rng.below(static_cast<uint64_t>(params_.keys));
  op.key = cat("k", key);
  const uint32_t dice = static_cast<uint32_t>(rng.below(Rng::kPpmOne));
  if (c.probe || dice >= params_.get_ppm + params_.cas_ppm) {
    op.kind = OpKind::kPut;
  } else if (dice < params_.get_ppm) {
    op.kind = OpKind::kGet;
  } else {
    op.kind = OpKind::kCas;
    op.expected = last_seen_[op.key];
  }
  if (op.kind != OpKind::kGet) op.value = cat(c.probe ? "p" : "c", c.id, "r", c.request);
  return op;
}

void Clients::issue(uint32_t id) {
  Client& c = client(id);
  if (c.busy || (!c.probe && !issuing_) || (c.probe && probe_succeeded_)) return;
  ++c.request;
  c.busy = true;
  c.attempt = 0;
  c.accepted = false;
  c.target = raft::kNoNode;
  c.op = history_.size();
  history_.push_back(make_op(c));
  cluster_.trace(cat("c", id, " calls ", describe(history_.back())));
  const uint64_t request = c.request;
  cluster_.events().after(params_.op_timeout_us, [this, id, request] { timeout(id, request); });
  attempt(id, request);
}

void Clients::attempt(uint32_t id, uint64_t request) {
  Client& c = client(id);
  if (!c.busy || c.request != request || c.accepted) return;
  ++c.attempt;
  SimNode* n = nullptr;
  if (c.probe) {
    n = cluster_.leader();
  } else {
    const auto pool = cluster_.pool();
    n = &cluster_.node(pool[cluster_.rng().below(pool.size())]);
  }
  if (n == nullptr || !n->up() || n->replica().leader() == raft::kNoNode) {
    retry_later(c);
    return;
  }
  if (history_[c.op].kind == OpKind::kGet) {
    send_read(c, *n);
  } else {
    send_write(c, *n);
  }
}

void Clients::retry_later(Client& c) {
  c.target = raft::kNoNode;  // no node holds this request now
  const uint32_t id = c.id;
  const uint64_t request = c.request;
  cluster_.events().after(cluster_.rng().range(params_.retry_min_us, params_.retry_max_us),
                          [this, id, request] { attempt(id, request); });
}

void Clients::send_write(Client& c, SimNode& n) {
  const Operation& op = history_[c.op];
  Command cmd;
  cmd.client = c.id;
  cmd.request = c.request;
  cmd.op = op.kind == OpKind::kPut ? CommandOp::kPut : CommandOp::kCas;
  cmd.key = op.key;
  cmd.value = op.value;
  cmd.expected = op.expected;
  raft::Status s = n.propose(encode_command(cmd));
  if (!s.is_ok()) {
    cluster_.trace(cat("c", c.id, " #", op.id, " refused by n", n.id(), ": ", s.to_string()));
    retry_later(c);
    return;
  }
  c.accepted = true;
  c.target = n.id();
  cluster_.trace(cat("c", c.id, " #", op.id, " accepted by n", n.id()));
}

void Clients::send_read(Client& c, SimNode& n) {
  c.target = n.id();
  cluster_.trace(cat("c", c.id, " #", history_[c.op].id, " read at n", n.id()));
  n.read_index(read_context(c.id, c.request, c.attempt));
  const uint32_t id = c.id;
  const uint64_t request = c.request;
  const uint32_t attempt_no = c.attempt;
  cluster_.events().after(params_.read_attempt_us, [this, id, request, attempt_no] {
    read_attempt_expired(id, request, attempt_no);
  });
}

void Clients::read_attempt_expired(uint32_t id, uint64_t request, uint32_t attempt_no) {
  Client& c = client(id);
  if (!c.busy || c.request != request || c.attempt != attempt_no) return;
  attempt(id, request);
}

void Clients::timeout(uint32_t id, uint64_t request) {
  Client& c = client(id);
  if (!c.busy || c.request != request) return;
  give_up(c, "times out");
}

void Clients::give_up(Client& c, const char* why) {
  // The operation stays kUnknown in the history: it may still take effect.
  ++unknown_;
  c.busy = false;
  cluster_.trace(cat("c", c.id, " #", history_[c.op].id, " ", why, " (unknown)"));
  schedule_next(c, c.probe ? 0 : cluster_.rng().range(params_.think_min_us, params_.think_max_us));
}

void Clients::complete(Client& c, bool ok, std::string value) {
  Operation& op = history_[c.op];
  op.outcome = Outcome::kOk;
  op.return_time = cluster_.now().value();
  op.output_ok = ok;
  op.output_value = std::move(value);
  if (op.kind == OpKind::kGet) last_seen_[op.key] = op.output_value;
  if (op.kind == OpKind::kPut || (op.kind == OpKind::kCas && ok)) last_seen_[op.key] = op.value;
  ++completed_;
  c.busy = false;
  cluster_.trace(cat("c", c.id, " returns ", describe(op)));
  if (c.probe) {
    probe_succeeded_ = true;
    return;
  }
  schedule_next(c, cluster_.rng().range(params_.think_min_us, params_.think_max_us));
}

void Clients::on_command_applied(SimNode& n, const Command& cmd, const ApplyResult& r) {
  if (!r.applied || cmd.client < 1 || cmd.client > clients_.size()) return;
  Client& c = client(cmd.client);
  if (!c.busy || c.request != cmd.request || c.target != n.id()) return;
  complete(c, r.ok, std::string());
}

void Clients::on_read_ready(SimNode& n, const std::string& context) {
  uint32_t id = 0;
  uint64_t request = 0;
  if (!parse_read_context(context, id, request) || id < 1 || id > clients_.size()) {
    cluster_.fail("read context", cat("n", n.id(), " served unknown read '", context, "'"));
    return;
  }
  Client& c = client(id);
  if (!c.busy || c.request != request || history_[c.op].kind != OpKind::kGet) return;
  complete(c, true, n.kv().get(history_[c.op].key));
}

void Clients::on_crash(NodeId node) {
  for (Client& c : clients_) {
    if (!c.busy || c.target != node) continue;
    if (c.accepted) {
      // The connection is gone: the write may or may not have been committed.
      give_up(c, cat("lost with n", node).c_str());
    } else {
      // A read is retried elsewhere; it has no effect to be unsure about. The
      // attempt number moves on so that the lost attempt's expiry is void.
      ++c.attempt;
      retry_later(c);
    }
  }
}

std::string Clients::describe(const Operation& op) const {
  std::string s = cat("#", op.id, " ", kind_name(op.kind), "(", op.key);
  if (op.kind == OpKind::kCas) s += cat(", '", op.expected, "'");
  if (op.kind != OpKind::kGet) s += cat(", '", op.value, "'");
  s += ")";
  if (op.outcome == Outcome::kOk) {
    if (op.kind == OpKind::kGet) s += cat(" -> '", op.output_value, "'");
    if (op.kind == OpKind::kCas) s += op.output_ok ? " -> true" : " -> false";
    if (op.kind == OpKind::kPut) s += " -> ok";
  }
  return s;
}

}  // namespace meridian::sim

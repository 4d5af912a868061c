// Clients: the simulated client workload and the recorder of its history.
//
// K clients each run one operation at a time against the KV state machine: put,
// compare-and-set (both proposed as log entries) and get (a linearizable read
// through ReadIndex). A client sends to a random node; if the node is down, has
// no leader, or refuses the proposal, it retries elsewhere after a short delay
// (the same request id is safe to re-send until a node has accepted it). Once
// accepted, a write completes when the node it was sent to applies the entry
// carrying its (client, request) id; it is never re-proposed. A write whose node
// crashes, or that is not answered within the operation timeout, is recorded as
// kUnknown (it may still take effect later) and the client moves on with a new
// request id. A get is answered once the node's state machine reaches the read
// index; unanswered attempts are retried at other nodes until the timeout.
//
// One extra "probe" client checks liveness after the faults are healed: it writes
// through the current leader until one write completes.
//
// Every call and return is recorded as an Operation of sim/linearizability.h,
// with times in virtual microseconds. Owned by run_simulation; single-threaded;
// it is the Cluster's ClusterListener and never calls into a node from a callback.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/cluster.h"
#include "sim/linearizability.h"

namespace meridian::sim {

struct ClientParams {
  int clients = 3;
  int keys = 2;
  uint64_t think_min_us = 0;  // pause between one client's operations
  uint64_t think_max_us = 0;
  uint64_t retry_min_us = 0;  // pause before trying another node
  uint64_t retry_max_us = 0;
  uint64_t op_timeout_us = 0;    // an operation not answered by then is unknown
  uint64_t read_attempt_us = 0;  // a read attempt not answered by then is retried
  uint32_t get_ppm = 0;          // share of gets
  uint32_t cas_ppm = 0;          // share of compare-and-sets; the rest are puts
};

class Clients final : public ClusterListener {
 public:
  Clients(Cluster& cluster, const ClientParams& params);

  // Starts every client (their first operations at random times soon after).
  void start();
  // Clients finish their current operation and issue no more.
  void stop_issuing() { issuing_ = false; }
  // Starts the probe: a put through the leader, retried until one completes.
  void start_probe();
  bool probe_succeeded() const { return probe_succeeded_; }
  // No operation outstanding (the probe included).
  bool idle() const;

  const std::vector<Operation>& history() const { return history_; }
  uint64_t ops_completed() const { return completed_; }
  uint64_t ops_unknown() const { return unknown_; }

  // ClusterListener.
  void on_command_applied(SimNode& n, const Command& c, const ApplyResult& r) override;
  void on_read_ready(SimNode& n, const std::string& context) override;
  void on_crash(raft::NodeId node) override;

 private:
  struct Client {
    uint32_t id = 0;
    bool probe = false;
    bool busy = false;
    size_t op = 0;          // index in history_ of the outstanding operation
    uint64_t request = 0;   // request id of the outstanding operation
    uint32_t attempt = 0;   // attempts of it so far
    bool accepted = false;  // a node accepted the write: never send it again
    raft::NodeId target = raft::kNoNode;
  };

  Client& client(uint32_t id);
  void schedule_next(Client& c, uint64_t delay_us);
  void issue(uint32_t id);
  void attempt(uint32_t id, uint64_t request);
  void retry_later(Client& c);
  void send_write(Client& c, SimNode& n);
  void send_read(Client& c, SimNode& n);
  void read_attempt_expired(uint32_t id, uint64_t request, uint32_t attempt);
  void timeout(uint32_t id, uint64_t request);
  void complete(Client& c, bool ok, std::string value);
  void give_up(Client& c, const char* why);
  Operation make_op(const Client& c);
  std::string describe(const Operation& op) const;

  Cluster& cluster_;
  ClientParams params_;
  std::vector<Client> clients_;  // clients_[k].id == k + 1; the probe is last
  std::vector<Operation> history_;
  std::map<std::string, std::string> last_seen_;  // key -> a value recently observed
  bool issuing_ = true;
  bool probe_succeeded_ = false;
  uint64_t completed_ = 0;
  uint64_t unknown_ = 0;
};

}  // namespace meridian::sim

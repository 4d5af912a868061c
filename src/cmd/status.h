// `meridian status`: asks admin endpoints for their /v1/status (all at once, each
// with a deadline) and prints the answers as a table, or as one JSON array.
//
// The /v1/status document is admin/routes.cc's: {"node":1,"cluster_id":...,
// "groups":[{"group":1,"role":"leader","leader":1,"term":2,"commit":10,
// "applied":10,"members":{"voters":[1,2,3],"learners":[]}},...]}. Also read:
// "id" for "node", and "voters"/"learners" directly in the group. Fields may be
// missing (an older or newer node); they print as "-".
// Free functions; fetch_statuses blocks the calling thread up to the timeout.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace meridian::cmd {

struct EndpointStatus {
  std::string endpoint;   // "host:port" as given
  bool ok = false;        // answered 200 with a JSON object
  std::string error;      // why not, when !ok
  nlohmann::json status;  // the document, when ok
};

// GET http://<endpoint>/v1/status of every endpoint concurrently; the whole
// exchange with each (connect, request, response) must finish within `timeout`.
std::vector<EndpointStatus> fetch_statuses(const std::vector<std::string>& endpoints,
                                           std::chrono::milliseconds timeout);

// One row per endpoint and group; unreachable endpoints get one row saying why.
std::string format_status_table(const std::vector<EndpointStatus>& statuses);
// A JSON array: each answer with "endpoint" added, or {"endpoint":..,"error":..}.
std::string format_status_json(const std::vector<EndpointStatus>& statuses);

}  // namespace meridian::cmd

#include "node/snapshot_sink.h"

#include <utility>

namespace meridian::node {

namespace {

class Sealed final : public net::ReceivedSnapshot {
 public:
  explicit Sealed(std::unique_ptr<storage::SnapshotWriter> writer) : writer_(std::move(writer)) {}
  base::Status keep() override { return writer_->publish(); }

 private:
  std::unique_ptr<storage::SnapshotWriter> writer_;  // aborts (removes the file) unless published
};

class Spool final : public net::SnapshotSpool {
 public:
  explicit Spool(std::unique_ptr<storage::SnapshotWriter> writer) : writer_(std::move(writer)) {}
  base::Status append(std::string_view data) override { return writer_->append(data); }
  base::Result<std::shared_ptr<net::ReceivedSnapshot>> finish() override {
    if (base::Status s = writer_->seal(); !s.is_ok()) return s;
    return std::shared_ptr<net::ReceivedSnapshot>(std::make_shared<Sealed>(std::move(writer_)));
  }

 private:
  std::unique_ptr<storage::SnapshotWriter> writer_;
};

}  // namespace

base::Result<std::unique_ptr<net::SnapshotSpool>> StoreSnapshotSink::begin(
    GroupId group, const raft::SnapshotMeta& meta) {
  auto writer = store_->begin(group, meta);
  if (!writer.is_ok()) return writer.status();
  return std::unique_ptr<net::SnapshotSpool>(std::make_unique<Spool>(std::move(writer).value()));
}

}  // namespace meridian::node

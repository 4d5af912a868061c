#include "api/election_observe.h"

#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "api/grpc_errors.h"
#include "etcd/etcdserver/api/v3election/v3electionpb/v3election.pb.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;
namespace epb = ::v3electionpb;

namespace {

using ClientPtr = std::shared_ptr<StoreClient>;

// The state of one stream (see the header). Each watch it opens gets a
// generation number; only the current generation's responses are acted on,
// and a watch whose id arrives after it was retired is cancelled then.
class Observer : public std::enable_shared_from_this<Observer> {
 public:
  Observer(ClientPtr client, rpc::ServerStream* stream)
      : client_(std::move(client)), stream_(stream) {}

  void begin(const std::string& name) {
    prefix_ = name + "/";
    look();
  }

  // Keeps reading, so that the client's end of its side is seen; what a
  // client sends after its one request is ignored.
  void read_more() {
    std::lock_guard lock(mu_);
    if (stream_ != nullptr && !ended_) stream_->start_read();
  }

  void write_done(bool ok) {
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (ok) return write_next_locked();
    }
    stop();  // the client is gone: on_cancel and on_done follow
  }

  // Ends the stream with `status`.
  void end(const rpc::Status& status) {
    int64_t id = 0;
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      ended_ = true;
      ++generation_;
      id = std::exchange(watch_id_, 0);
      if (stream_ != nullptr) stream_->finish(status);
    }
    if (id != 0) client_->unwatch(id);
  }

  // Stops following without a status (the stream is ending anyway).
  void stop() {
    int64_t id = 0;
    {
      std::lock_guard lock(mu_);
      ended_ = true;
      ++generation_;
      id = std::exchange(watch_id_, 0);
    }
    if (id != 0) client_->unwatch(id);
  }

  // on_done: the stream must not be used again.
  void detach() {
    {
      std::lock_guard lock(mu_);
      stream_ = nullptr;
    }
    stop();
  }

 private:
  using Handler = void (Observer::*)(const pb::WatchResponse&);

  void look() {
    client_->range(first_created(prefix_),
                   [self = shared_from_this()](rpc::Status st, pb::RangeResponse r) {
                     if (!st.ok()) return self->end(st);
                     if (r.kvs().empty()) {
                       // No candidate yet: the first put under the prefix after this read.
                       return self->start_watch(prefix_end_of(self->prefix_), r.header().revision(),
                                                &Observer::on_prefix);
                     }
                     self->lead(r.header(), r.kvs(0), r.header().revision() + 1);
                   });
  }

  static std::pair<std::string, std::string> prefix_end_of(const std::string& prefix) {
    return {prefix, prefix_end(prefix)};
  }

  // `kv` leads: send it, then follow its key from `next_revision`.
  void lead(const pb::ResponseHeader& header, const mvccpb::KeyValue& kv, int64_t next_revision) {
    send(header, kv);
    start_watch({kv.key(), ""}, next_revision, &Observer::on_leader);
  }

  void on_prefix(const pb::WatchResponse& wr) {
    if (wr.canceled()) return restart(wr);
    for (const mvccpb::Event& ev : wr.events()) {
      if (ev.type() != mvccpb::Event::PUT) continue;
      retire();
      pb::ResponseHeader header = wr.header();
      header.set_revision(ev.kv().mod_revision());  // as etcd: the put's, not the batch's
      return lead(header, ev.kv(), ev.kv().mod_revision() + 1);
    }
  }

  void on_leader(const pb::WatchResponse& wr) {
    if (wr.canceled()) return restart(wr);
    for (const mvccpb::Event& ev : wr.events()) {
      if (ev.type() == mvccpb::Event::DELETE) {
        retire();
        return look();
      }
      send(wr.header(), ev.kv());
    }
  }

  // The hub ended the current watch: its start was compacted (look again:
  // whatever was missed is history) or the service is stopping.
  void restart(const pb::WatchResponse& wr) {
    retire();
    if (wr.compact_revision() == 0) return end(stopped_status());
    look();
  }

  void start_watch(const std::pair<std::string, std::string>& range, int64_t start_revision,
                   Handler handler) {
    uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      generation = ++generation_;
    }
    int64_t id = 0;
    const rpc::Status st = client_->watch(
        range.first, range.second, start_revision,
        [self = shared_from_this(), generation, handler](const pb::WatchResponse& wr) {
          {
            std::lock_guard lock(self->mu_);
            if (self->ended_ || self->generation_ != generation) return;
          }
          // look, watch, a response, retire, look: one step is under way at a
          // time, so meanwhile only end() or stop() (any thread) moves the
          // generation on, and sending and watching check ended_.
          (self.get()->*handler)(wr);
        },
        &id);
    if (!st.ok()) return end(st);
    bool stale = false;
    {
      std::lock_guard lock(mu_);
      stale = ended_ || generation_ != generation;
      if (!stale) watch_id_ = id;
    }
    if (stale) client_->unwatch(id);
  }

  // The current watch is done with.
  void retire() {
    int64_t id = 0;
    {
      std::lock_guard lock(mu_);
      ++generation_;
      id = std::exchange(watch_id_, 0);
    }
    if (id != 0) client_->unwatch(id);
  }

  void send(const pb::ResponseHeader& header, const mvccpb::KeyValue& kv) {
    epb::LeaderResponse resp;
    *resp.mutable_header() = header;
    *resp.mutable_kv() = kv;
    std::string bytes = resp.SerializeAsString();
    std::lock_guard lock(mu_);
    if (ended_ || stream_ == nullptr) return;
    if (queued_.size() >= kObserveQueuedMax) {
      queued_.back() = std::move(bytes);  // the newest value replaces the newest waiting one
    } else {
      queued_.push_back(std::move(bytes));
    }
    write_next_locked();
  }

  void write_next_locked() {
    if (stream_ == nullptr || ended_ || writing_ || queued_.empty()) return;
    writing_ = true;
    stream_->start_write(std::move(queued_.front()));
    queued_.pop_front();
  }

  const ClientPtr client_;
  std::string prefix_;  // set by begin(), before any other step

  std::mutex mu_;
  rpc::ServerStream* stream_;       // null after on_done; guarded by mu_
  std::deque<std::string> queued_;  // responses waiting to be written; guarded by mu_
  bool writing_ = false;            // guarded by mu_
  bool ended_ = false;              // guarded by mu_
  uint64_t generation_ = 0;         // of the current watch; guarded by mu_
  int64_t watch_id_ = 0;            // the current watch, once known; guarded by mu_
};

class ObserveReactor final : public rpc::StreamReactor {
 public:
  ObserveReactor(ClientPtr client, rpc::ServerStream* stream)
      : observer_(std::make_shared<Observer>(std::move(client), stream)) {
    stream->start_read();
  }

  void on_read(std::string_view message) override {
    if (!begun_) {
      epb::LeaderRequest req;
      if (!req.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
        return observer_->end({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"});
      }
      begun_ = true;
      observer_->begin(req.name());
    }
    observer_->read_more();
  }
  void on_read_done() override {}  // a server stream: the client has sent its one request
  void on_write_done(bool ok) override { observer_->write_done(ok); }
  void on_cancel() override { observer_->stop(); }
  void on_done() override {
    observer_->detach();
    delete this;  // NOLINT(cppcoreguidelines-owning-memory): the server's contract
  }

 private:
  ~ObserveReactor() override = default;

  const std::shared_ptr<Observer> observer_;
  bool begun_ = false;  // I/O thread only
};

}  // namespace

rpc::StreamReactor* new_observe(std::shared_ptr<StoreClient> client, rpc::ServerStream* stream) {
  return new ObserveReactor(std::move(client), stream);  // NOLINT(cppcoreguidelines-owning-memory)
}

}  // namespace meridian::api

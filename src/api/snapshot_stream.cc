#include "api/snapshot_stream.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include <openssl/evp.h>

#include "api/grpc_errors.h"
#include "api/response_header.h"
#include "base/assert.h"
#include "base/byte_source.h"
#include "base/strings.h"

namespace meridian::api {

namespace {

namespace pb = ::etcdserverpb;

// etcdctl's `snapshot save` accepts a stream whose size is 32 more than a
// multiple of 512 (etcd's bbolt file is whole pages, then its SHA-256): the
// image is padded with zeros to that, then the digest of everything before it
// is appended, with the image's length just before it (snapshot_stream.h).
constexpr uint64_t kSectorBytes = 512;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    MERIDIAN_ASSERT(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1,
                    "SHA-256 init");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes) {
    MERIDIAN_ASSERT(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1, "SHA-256 update");
  }
  std::string finish() {
    std::string out(EVP_MAX_MD_SIZE, '\0');
    unsigned int size = 0;
    MERIDIAN_ASSERT(
        EVP_DigestFinal_ex(ctx_, reinterpret_cast<unsigned char*>(out.data()), &size) == 1,
        "SHA-256 final");
    out.resize(size);
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// The stream's state, shared by the reactor (I/O thread), the raft thread's
// read and the pool's chunk reads; the stream pointer is cleared at on_done.
struct Transfer {
  Transfer(const EtcdBackend& b, ReadPool* p, rpc::ServerStream* s)
      : backend(b), pool(p), stream(s) {}
  const EtcdBackend backend;
  ReadPool* const pool;
  std::mutex mu;
  rpc::ServerStream* stream;  // guarded by mu; null after on_done
  // The pool's, one task at a time:
  std::unique_ptr<base::ByteSource> image;
  Sha256 digest;
  uint64_t estimate = 0;
  uint64_t sent = 0;
  bool started = false;  // guarded by mu
  bool ended = false;    // guarded by mu

  void end(const rpc::Status& status) {
    std::lock_guard lock(mu);
    if (stream == nullptr || ended) return;
    ended = true;
    stream->finish(status);
  }

  // On the pool: reads the next piece and writes it (or the last message).
  void send_next() {
    auto piece = image->read(kSnapshotChunkBytes);
    if (!piece.is_ok()) {
      return end(
          {rpc::StatusCode::kUnavailable, "etcdserver: snapshot: " + piece.status().message()});
    }
    pb::SnapshotResponse resp;
    const bool last = piece.value().empty();
    std::string blob = std::move(piece).value();
    if (last) {
      // The image ended: zeros, its length (so that a reader finds its end
      // without decoding it), then the digest, 32 bytes over a sector multiple.
      const uint64_t image_bytes = sent;
      blob.assign((kSectorBytes - (image_bytes + 8) % kSectorBytes) % kSectorBytes, '\0');
      for (int i = 0; i < 8; ++i) blob.push_back(static_cast<char>(image_bytes >> (8 * i)));
      digest.update(blob);
      blob += digest.finish();
    } else {
      digest.update(blob);
    }
    sent += blob.size();
    resp.set_remaining_bytes(last ? 0 : std::max<uint64_t>(estimate - std::min(estimate, sent), 1));
    resp.set_blob(std::move(blob));
    fill_header(resp.mutable_header(), backend, backend.kv->store().revision());
    std::lock_guard lock(mu);
    if (stream == nullptr || ended) return;
    if (last) ended = true;
    stream->start_write(resp.SerializeAsString());
    if (last) stream->finish(rpc::Status{});
  }

  void schedule(const std::shared_ptr<Transfer>& self) {
    if (!pool->submit([self] { self->send_next(); })) {
      end({rpc::StatusCode::kResourceExhausted, std::string(kTooManyRequestsMessage)});
    }
  }
};

class SnapshotReactor final : public rpc::StreamReactor {
 public:
  SnapshotReactor(const EtcdBackend& backend, ReadPool* pool, rpc::ServerStream* stream)
      : t_(std::make_shared<Transfer>(backend, pool, stream)) {
    stream->start_read();
  }

  void on_read(std::string_view message) override {
    pb::SnapshotRequest req;
    if (!req.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      return t_->end({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"});
    }
    {
      std::lock_guard lock(t_->mu);
      if (t_->started) return;
      t_->started = true;
    }
    // Fixed on the raft thread, between applies: the image is this member's
    // state at one applied index.
    auto t = t_;
    t->backend.node->read(
        t->backend.group, false,
        [t](const node::StateMachine& sm) {
          t->image = sm.image();
          t->estimate = t->backend.kv->store().size_bytes();
          return std::string();
        },
        [t](base::Result<std::string> r) {
          if (!r.is_ok()) return t->end(node_status(r.status()));
          if (t->image == nullptr) {
            return t->end({rpc::StatusCode::kUnavailable, "etcdserver: snapshot: no image"});
          }
          t->schedule(t);
        });
  }
  void on_read_done() override {}
  void on_write_done(bool ok) override {
    {
      std::lock_guard lock(t_->mu);
      if (!ok || t_->ended) return;
    }
    t_->schedule(t_);
  }
  void on_cancel() override {}
  void on_done() override {
    {
      std::lock_guard lock(t_->mu);
      t_->stream = nullptr;
    }
    delete this;  // NOLINT(cppcoreguidelines-owning-memory): the server's contract
  }

 private:
  std::shared_ptr<Transfer> t_;
};

}  // namespace

base::Result<uint64_t> check_snapshot_file(const std::string& path) {
  using base::Code;
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::Status(Code::kIoError, base::cat("cannot open ", path));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  constexpr uint64_t kTrailerBytes = 8 + 32;
  if (size < kTrailerBytes || size % kSectorBytes != 32) {
    return base::Status(Code::kCorruption, base::cat(path, " is not a snapshot stream: its ", size,
                                                     " bytes are not 32 over a multiple of 512"));
  }
  in.seekg(0);
  Sha256 digest;
  std::string buf(1 << 20, '\0');
  for (uint64_t left = size - 32; left > 0;) {
    const auto n = static_cast<std::streamsize>(std::min<uint64_t>(left, buf.size()));
    if (!in.read(buf.data(), n)) return base::Status(Code::kIoError, base::cat("reading ", path));
    digest.update(std::string_view(buf.data(), static_cast<size_t>(n)));
    left -= static_cast<uint64_t>(n);
  }
  std::string stored(32, '\0');
  if (!in.read(stored.data(), 32)) return base::Status(Code::kIoError, base::cat("reading ", path));
  if (digest.finish() != stored) {
    return base::Status(Code::kCorruption, base::cat(path, ": its SHA-256 does not match"));
  }
  std::string trailer(kTrailerBytes - 32, '\0');
  in.seekg(static_cast<std::streamoff>(size - kTrailerBytes));
  if (!in.read(trailer.data(), 8)) return base::Status(Code::kIoError, base::cat("reading ", path));
  uint64_t image_bytes = 0;
  for (int i = 7; i >= 0; --i) {
    image_bytes = (image_bytes << 8) | static_cast<unsigned char>(trailer[static_cast<size_t>(i)]);
  }
  if (image_bytes > size - kTrailerBytes || size - kTrailerBytes - image_bytes >= kSectorBytes) {
    return base::Status(Code::kCorruption, base::cat(path, ": the image length it gives (",
                                                     image_bytes, ") does not fit its size"));
  }
  std::string padding(size - kTrailerBytes - image_bytes, '\0');
  in.seekg(static_cast<std::streamoff>(image_bytes));
  if (!padding.empty() && !in.read(padding.data(), static_cast<std::streamsize>(padding.size()))) {
    return base::Status(Code::kIoError, base::cat("reading ", path));
  }
  if (padding.find_first_not_of('\0') != std::string::npos) {
    return base::Status(Code::kCorruption, base::cat(path, ": its padding is not zeros"));
  }
  return image_bytes;
}

void register_snapshot(rpc::Server& server, const EtcdBackend& backend, ReadPool* pool) {
  server.add_stream(
      "/etcdserverpb.Maintenance/Snapshot", [backend, pool](rpc::ServerStream* stream) {
        return new SnapshotReactor(backend, pool,  // NOLINT(cppcoreguidelines-owning-memory)
                                   stream);
      });
}

}  // namespace meridian::api

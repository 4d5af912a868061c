#include "api/response_header.h"

namespace meridian::api {

void fill_header(etcdserverpb::ResponseHeader* header, const EtcdBackend& backend,
                 int64_t revision) {
  header->set_cluster_id(backend.cluster_id);
  header->set_member_id(backend.member_id);
  header->set_revision(revision);
  header->set_raft_term(backend.node->term(backend.group).value());
}

}  // namespace meridian::api

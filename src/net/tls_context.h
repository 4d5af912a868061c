// The TLS configuration of the peer transport: one Asio SSL context per
// transport, used for both roles (the listener's server side and the dialers'
// client side). TLS 1.2 or later; this node's certificate chain and key; peers
// must present a certificate chaining to ca_file (mutual authentication:
// verify_peer + verify_fail_if_no_peer_cert on both sides).
//
// Trust model: membership of the cluster is proven by holding a certificate from
// the cluster's CA; host names are not checked (peers are addressed by whatever
// host:port the configuration names, and node ids travel in the Hello).
//
// Threads: built once at start; Asio then uses it from the io threads (OpenSSL
// contexts are safe to share between connections).
#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "base/status.h"
#include "net/transport.h"

namespace meridian::net {

// kInvalidArgument naming the file and OpenSSL's reason if a file cannot be
// loaded or the key does not match the certificate.
base::Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(
    const TlsOptions& options);

}  // namespace meridian::net

#include "net/tls_context.h"

#include <string>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace meridian::net {

namespace ssl = boost::asio::ssl;

namespace {

base::Status invalid(const std::string& what, const std::string& file,
                     const boost::system::error_code& ec) {
  return base::Status(base::Code::kInvalidArgument,
                      fmt::format("TLS: cannot load {} '{}': {}", what, file, ec.message()));
}

// The reason for the last OpenSSL failure, and the error queue cleared.
std::string openssl_reason() {
  unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return "unknown reason";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  return buf;
}

}  // namespace

base::Result<std::shared_ptr<ssl::context>> make_tls_context(const TlsOptions& options) {
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls);
  } catch (const boost::system::system_error& e) {
    return base::Status(base::Code::kInvalidArgument,
                        fmt::format("TLS: cannot create a context: {}", e.what()));
  }
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return base::Status(base::Code::kInvalidArgument,
                        "TLS: cannot require TLS 1.2: " + openssl_reason());
  }
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::no_compression,
                   ec);
  if (ec) {
    return base::Status(base::Code::kInvalidArgument,
                        fmt::format("TLS: cannot set options: {}", ec.message()));
  }
  if (ctx->use_certificate_chain_file(options.cert_file, ec); ec) {
    return invalid("certificate chain", options.cert_file, ec);
  }
  if (ctx->use_private_key_file(options.key_file, ssl::context::pem, ec); ec) {
    return invalid("private key", options.key_file, ec);
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return base::Status(base::Code::kInvalidArgument,
                        fmt::format("TLS: private key '{}' does not match certificate '{}': {}",
                                    options.key_file, options.cert_file, openssl_reason()));
  }
  if (ctx->load_verify_file(options.ca_file, ec); ec) {
    return invalid("CA certificates", options.ca_file, ec);
  }
  // As a server, name the acceptable CAs in the certificate request so that a
  // client holding several certificates picks the right one.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  ERR_clear_error();
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) {
    return base::Status(base::Code::kInvalidArgument,
                        fmt::format("TLS: cannot set the verify mode: {}", ec.message()));
  }
  return ctx;
}

}  // namespace meridian::net

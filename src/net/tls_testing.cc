#include "net/tls_testing.h"

#include <stdlib.h>  // mkdtemp (POSIX)

#include <cstdio>
#include <filesystem>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/assert.h"

namespace meridian::net::testing {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Validity: an hour back (clock skew between nothing, but harmless) to a day on.
constexpr long kNotBeforeSeconds = -3600;
constexpr long kNotAfterSeconds = 86400;

PkeyPtr new_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  MERIDIAN_ASSERT(key != nullptr, "EVP_EC_gen failed");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  MERIDIAN_ASSERT(ext != nullptr, "bad extension ", value);
  MERIDIAN_ASSERT(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext failed");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer_key`; `issuer` null: self-signed.
X509Ptr new_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                 long serial, bool ca) {
  X509Ptr cert(X509_new());
  MERIDIAN_ASSERT(cert != nullptr, "X509_new failed");
  X509* x = cert.get();
  MERIDIAN_ASSERT(X509_set_version(x, 2) == 1, "X509_set_version");  // v3
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), kNotBeforeSeconds);
  X509_gmtime_adj(X509_getm_notAfter(x), kNotAfterSeconds);
  MERIDIAN_ASSERT(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : x;
  MERIDIAN_ASSERT(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1, "issuer");
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
    // Every node is both a TLS server (listener) and a client (dialer).
    add_ext(x, signer, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(x, signer, NID_subject_alt_name, "IP:127.0.0.1");
  }
  MERIDIAN_ASSERT(X509_sign(x, issuer_key, EVP_sha256()) > 0, "X509_sign failed");
  return cert;
}

void write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  MERIDIAN_ASSERT(f != nullptr, "cannot write ", path);
  int ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  MERIDIAN_ASSERT(ok == 1, "PEM_write_PrivateKey ", path);
}

void write_cert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  MERIDIAN_ASSERT(f != nullptr, "cannot write ", path);
  int ok = PEM_write_X509(f, cert);
  std::fclose(f);
  MERIDIAN_ASSERT(ok == 1, "PEM_write_X509 ", path);
}

}  // namespace

struct TestCa::Keys {
  PkeyPtr key;
  X509Ptr cert;
};

TestCa::TestCa(const std::string& name) : keys_(std::make_unique<Keys>()) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-tls-XXXXXX").string();
  MERIDIAN_ASSERT(mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
  dir_ = tmpl;
  keys_->key = new_key();
  keys_->cert = new_cert(name, keys_->key.get(), nullptr, keys_->key.get(), serial_++, true);
  ca_file_ = dir_ + "/ca.pem";
  write_cert(ca_file_, keys_->cert.get());
}

TestCa::~TestCa() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

TlsOptions TestCa::issue(const std::string& name) {
  PkeyPtr key = new_key();
  X509Ptr cert = new_cert(name, key.get(), keys_->cert.get(), keys_->key.get(), serial_++, false);
  TlsOptions o;
  o.cert_file = dir_ + "/" + name + ".crt";
  o.key_file = dir_ + "/" + name + ".key";
  o.ca_file = ca_file_;
  write_cert(o.cert_file, cert.get());
  write_key(o.key_file, key.get());
  return o;
}

}  // namespace meridian::net::testing

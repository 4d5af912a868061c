// Test certificates for the TLS transport tests, made at test time with the
// OpenSSL 3 C API: a CA (EC P-256 key, self-signed certificate) and, per node, a
// key and a certificate the CA signed, as PEM files in a temporary directory that
// is removed with the TestCa. Test support only (linked into net_tests).
//
// Threads: one test thread.
#pragma once

#include <memory>
#include <string>

#include "net/transport.h"

namespace meridian::net::testing {

class TestCa {
 public:
  // A new CA named `name` (its certificate's CN), with files in a new temp dir.
  explicit TestCa(const std::string& name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  // A key and certificate for `name`, signed by this CA; ca_file is this CA's.
  TlsOptions issue(const std::string& name);

 private:
  struct Keys;
  std::string dir_;
  std::string ca_file_;
  std::unique_ptr<Keys> keys_;
  long serial_ = 1;  // ASN1_INTEGER_set takes a long
};

}  // namespace meridian::net::testing

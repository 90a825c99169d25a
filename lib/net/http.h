// ironroot net: HTTPS with mutual TLS, on Boost.Beast (server: asynchronous, a small thread
// pool; client: synchronous with keep-alive). Only this library includes Beast/Asio headers.
//
//   auto server = HttpsServer::start({.port = 0}, tls, [](const Request& r) {
//     return Response{200, "application/json", "{}"};
//   });
//   HttpsClient c("127.0.0.1", (*server)->port(), client_tls);
//   auto resp = c.request("GET", "/v1/hosts");
//
// Every request is untrusted input: bodies over `max_body_bytes`, headers over 16 KiB and
// connections idle over `idle_timeout_seconds` are cut off before a handler sees them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::net {

struct Request {
  std::string method;
  std::string target;  // path and query as sent
  std::string path;    // without the query
  std::string query;
  std::map<std::string, std::string> headers;  // names in lowercase
  std::string body;
  // Set when the peer presented a client certificate that chains to the configured client CA.
  std::string peer_common_name;
  std::string peer_fingerprint;  // SHA-256 of the client certificate (DER), hex
  std::string remote_address;

  std::string header(const std::string& lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

struct TlsServerConfig {
  std::string cert_pem;  // server certificate (and chain)
  std::string key_pem;
  std::string client_ca_pem;  // CA that issues client certificates; empty: no client auth
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  int threads = 2;
  size_t max_body_bytes = 8 << 20;
  int idle_timeout_seconds = 30;
  // Optional: the body limit for one request, decided from its headers alone (method, path,
  // headers and client certificate; no body yet), so a route can accept large uploads from
  // callers it has authenticated without letting anyone else send that much.
  std::function<size_t(const Request&)> body_limit;
};

class HttpsServer {
 public:
  // Binds, listens and starts serving on background threads.
  static Result<std::unique_ptr<HttpsServer>> start(const ServerOptions& options,
                                                    const TlsServerConfig& tls, Handler handler);
  virtual ~HttpsServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections and joins the threads. Idempotent.
  virtual void stop() = 0;
};

struct TlsClientConfig {
  std::string ca_pem;    // trust anchor for the server certificate
  std::string cert_pem;  // client certificate for mutual TLS (optional)
  std::string key_pem;
  std::string server_name;  // expected name in the server certificate (default: the host)
};

// Not thread-safe: one client per thread.
class HttpsClient {
 public:
  HttpsClient(std::string host, uint16_t port, TlsClientConfig tls, int timeout_seconds = 15);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request on the kept-alive connection (reconnecting once if it was closed).
  Result<Response> request(const std::string& method, const std::string& target,
                           const std::string& body = "",
                           const std::map<std::string, std::string>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "https://host:port" -> host, port. Fails on anything else.
Result<std::pair<std::string, uint16_t>> parse_https_url(const std::string& url);

}  // namespace ironroot::net

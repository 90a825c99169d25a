#include <openssl/ssl.h>
#include <openssl/x509.h>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
// clang-format on
#include <limits>
#include <thread>

#include "core/hex.h"
#include "net/http.h"

namespace ironroot::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

constexpr size_t kMaxHeaderBytes = 16 * 1024;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The verified client certificate's CN and fingerprint, if any.
void peer_identity(SSL* ssl, Request& req) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    char cn[256] = {0};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
      req.peer_common_name = cn;
    }
    unsigned char md[32];
    unsigned int n = 0;
    X509_digest(cert, EVP_sha256(), md, &n);
    req.peer_fingerprint = to_hex(Bytes(md, n));
  }
  X509_free(cert);
}

class ServerImpl final : public HttpsServer {
 public:
  ServerImpl(const ServerOptions& options, Handler handler)
      : options_(options),
        handler_(std::move(handler)),
        ssl_(asio::ssl::context::tls_server),
        acceptor_(io_) {}

  ~ServerImpl() override { stop(); }

  Status init(const TlsServerConfig& tls) {
    boost::system::error_code ec;
    ssl_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    ssl_.use_certificate_chain(asio::buffer(tls.cert_pem), ec);
    if (ec) return Error(ErrorCode::kInvalidArgument, "server certificate: " + ec.message());
    ssl_.use_private_key(asio::buffer(tls.key_pem), asio::ssl::context::pem, ec);
    if (ec) return Error(ErrorCode::kInvalidArgument, "server key: " + ec.message());
    if (!tls.client_ca_pem.empty()) {
      ssl_.add_certificate_authority(asio::buffer(tls.client_ca_pem), ec);
      if (ec) return Error(ErrorCode::kInvalidArgument, "client CA: " + ec.message());
      // Ask for a client certificate; routes that need one check Request::peer_common_name,
      // enrolment does not (the agent has no certificate yet).
      ssl_.set_verify_mode(asio::ssl::verify_peer);
      ssl_.set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
    }
    tcp::endpoint ep(asio::ip::make_address(options_.address, ec), options_.port);
    if (ec) return invalid_argument("listen address '" + options_.address + "': " + ec.message());
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error(ErrorCode::kIo, "cannot listen on " + options_.address + ":" +
                                       std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
    return {};
  }

  uint16_t port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    // io_.stop() may win the race with the posted close; with no thread left running handlers,
    // closing here is safe, and new connections are refused rather than left unanswered.
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        continue;
      }
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> session(tcp::socket socket) {
    const auto timeout = std::chrono::seconds(options_.idle_timeout_seconds);
    std::string remote;
    boost::system::error_code rec;
    socket.set_option(tcp::no_delay(true), rec);  // request/response: no Nagle delay
    auto ep = socket.remote_endpoint(rec);
    if (!rec) remote = ep.address().to_string();
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), ssl_);
    beast::get_lowest_layer(stream).expires_after(timeout);
    boost::system::error_code hec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, hec));
    if (hec) co_return;
    Request identity;
    peer_identity(stream.native_handle(), identity);
    beast::flat_buffer buffer;
    for (;;) {
      beast::get_lowest_layer(stream).expires_after(timeout);
      http::request_parser<http::string_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(options_.max_body_bytes);
      boost::system::error_code rec2;
      Request req = identity;
      if (options_.body_limit) {
        // Headers first: the route (and who is calling) decides how much body it accepts.
        // Beast checks Content-Length against the limit while it reads the header, so the
        // header is read with no limit and the declared length is checked here instead.
        parser.body_limit(
            std::numeric_limits<std::uint64_t>::max());  // boost::none compares below 0
        co_await http::async_read_header(stream, buffer, parser,
                                         asio::redirect_error(use_awaitable, rec2));
        if (!rec2) {
          describe(parser.get(), remote, req);
          size_t limit = options_.max_body_bytes;
          try {
            limit = options_.body_limit(req);
          } catch (const std::exception&) {
            // Keep the default: a failing policy must not open the door wider.
          }
          auto declared = parser.content_length();
          if (declared && *declared > limit) {
            rec2 = http::error::body_limit;
          } else {
            parser.body_limit(limit);  // chunked bodies are counted as they arrive
            co_await http::async_read(stream, buffer, parser,
                                      asio::redirect_error(use_awaitable, rec2));
          }
        }
      } else {
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(use_awaitable, rec2));
      }
      if (rec2 == http::error::body_limit || rec2 == http::error::header_limit) {
        co_await write(stream, too_large(rec2 == http::error::body_limit), false);
        // Lingering close: swallow what the client is still sending (bounded in time and size),
        // so that it reads our 413 instead of a connection reset.
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
        std::vector<char> sink(64 * 1024);
        size_t swallowed = 0;
        while (swallowed < (size_t{64} << 20)) {
          boost::system::error_code dec;
          swallowed += co_await stream.async_read_some(asio::buffer(sink),
                                                       asio::redirect_error(use_awaitable, dec));
          if (dec) break;
        }
        break;
      }
      if (rec2) break;
      auto& msg = parser.get();
      if (!options_.body_limit) describe(msg, remote, req);
      req.body = std::move(msg.body());
      Response resp;
      try {
        resp = handler_(req);
      } catch (const std::exception& e) {
        resp = Response{500, "application/json", R"({"error":"internal error"})", {}};
      }
      bool keep = msg.keep_alive();
      if (!co_await write(stream, resp, keep) || !keep) break;
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    boost::system::error_code sec;
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, sec));
  }

  // Method, target, path, query, headers and peer address of a request whose header is read.
  static void describe(const http::request<http::string_body>& msg, const std::string& remote,
                       Request& req) {
    req.remote_address = remote;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : msg)
      req.headers[lower(std::string(f.name_string()))] = std::string(f.value());
  }

  static Response too_large(bool body) {
    return Response{
        body ? 413 : 431,
        "application/json",
        body ? R"({"error":"request body too large"})" : R"({"error":"request headers too large"})",
        {}};
  }

  awaitable<bool> write(beast::ssl_stream<beast::tcp_stream>& stream, const Response& r,
                        bool keep) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
    res.set(http::field::server, "ironroot");
    res.set(http::field::content_type, r.content_type);
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep);
    res.body() = r.body;
    res.prepare_payload();
    boost::system::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  ServerOptions options_;
  Handler handler_;
  asio::io_context io_;
  asio::ssl::context ssl_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::start(const ServerOptions& options,
                                                        const TlsServerConfig& tls,
                                                        Handler handler) {
  auto server = std::make_unique<ServerImpl>(options, std::move(handler));
  IRONROOT_RETURN_IF_ERROR(server->init(tls));
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace ironroot::net

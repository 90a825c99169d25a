// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
// clang-format on
#include <optional>

#include "net/http.h"

namespace ironroot::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

}  // namespace

struct HttpsClient::Impl {
  std::string host;
  uint16_t port;
  TlsClientConfig tls;
  int timeout_seconds;
  asio::io_context io;
  asio::ssl::context ssl{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  std::string setup_error;

  // Runs one asynchronous operation to completion on this client's own io_context. Beast's
  // tcp_stream deadlines (expires_after) only apply to asynchronous operations: a synchronous
  // read from a server that never answers would wait forever.
  template <class Start>
  boost::system::error_code run(Start start) {
    boost::system::error_code result = asio::error::would_block;
    start([&result](boost::system::error_code e, auto&&...) { result = e; });
    io.restart();
    io.run();
    return result;
  }

  Status connect() {
    if (!setup_error.empty()) return Error(ErrorCode::kInvalidArgument, setup_error);
    stream.emplace(io, ssl);
    auto& layer = beast::get_lowest_layer(*stream);
    layer.expires_after(std::chrono::seconds(timeout_seconds));
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (!ec) ec = run([&](auto handler) { layer.async_connect(results, handler); });
    if (!ec) layer.socket().set_option(tcp::no_delay(true), ec);
    if (ec)
      return Error(ErrorCode::kIo,
                   "cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
    const std::string name = tls.server_name.empty() ? host : tls.server_name;
    // SNI; SSL_set_tlsext_host_name is a macro with a C cast.
    SSL_ctrl(stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
    stream->set_verify_callback(asio::ssl::host_name_verification(name));
    layer.expires_after(std::chrono::seconds(timeout_seconds));
    ec = run(
        [&](auto handler) { stream->async_handshake(asio::ssl::stream_base::client, handler); });
    if (ec) {
      return Error(ErrorCode::kIo, "TLS handshake with " + host + ":" + std::to_string(port) +
                                       " failed: " + ec.message());
    }
    return {};
  }

  Result<Response> round_trip(const std::string& method, const std::string& target,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "ironroot");
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(timeout_seconds));
    boost::system::error_code ec;
    ec = run([&](auto handler) { http::async_write(*stream, req, handler); });
    if (ec) return Error(ErrorCode::kIo, "sending " + method + " " + target + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    ec = run([&](auto handler) { http::async_read(*stream, buffer, parser, handler); });
    if (ec)
      return Error(ErrorCode::kIo,
                   "reading the answer to " + method + " " + target + ": " + ec.message());
    auto& res = parser.get();
    Response out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    if (!res.keep_alive()) stream.reset();
    return out;
  }
};

HttpsClient::HttpsClient(std::string host, uint16_t port, TlsClientConfig tls, int timeout_seconds)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->tls = std::move(tls);
  impl_->timeout_seconds = timeout_seconds;
  boost::system::error_code ec;
  impl_->ssl.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                         asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  impl_->ssl.set_verify_mode(asio::ssl::verify_peer);
  impl_->ssl.add_certificate_authority(asio::buffer(impl_->tls.ca_pem), ec);
  if (ec) impl_->setup_error = "verifier CA certificate: " + ec.message();
  if (!impl_->tls.cert_pem.empty()) {
    impl_->ssl.use_certificate_chain(asio::buffer(impl_->tls.cert_pem), ec);
    if (!ec)
      impl_->ssl.use_private_key(asio::buffer(impl_->tls.key_pem), asio::ssl::context::pem, ec);
    if (ec) impl_->setup_error = "client certificate or key: " + ec.message();
  }
}

HttpsClient::~HttpsClient() = default;

Result<Response> HttpsClient::request(const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!impl_->stream) {
      IRONROOT_RETURN_IF_ERROR(impl_->connect());
      fresh = true;
    }
    auto r = impl_->round_trip(method, target, body, headers);
    if (r) return r;
    impl_->stream.reset();
    if (fresh) return r;  // a new connection failed: do not retry blindly
  }
  return Error(ErrorCode::kIo, "unreachable");
}

Result<std::pair<std::string, uint16_t>> parse_https_url(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return invalid_argument("'" + url + "' is not an https:// URL");
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return invalid_argument("'" + url + "' has no port");
  std::string host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(rest.substr(colon + 1));
  } catch (...) {
    port = 0;
  }
  if (port <= 0 || port > 65535) return invalid_argument("'" + url + "' has no valid port");
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace ironroot::net

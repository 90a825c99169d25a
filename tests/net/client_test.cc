// The HTTPS client gives up at its deadline when the server never answers (a TCP listener that
// accepts and stays silent): an agent must not hang on a stuck verifier.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "crypto/pki.h"
#include "net/http.h"

namespace ironroot::net {
namespace {

TEST(HttpsClient, GivesUpWhenTheServerNeverSpeaks) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody reads
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  HttpsClient client("127.0.0.1", ntohs(a.sin_port), TlsClientConfig{}, /*timeout_seconds=*/1);
  auto t0 = std::chrono::steady_clock::now();
  auto r = client.request("GET", "/v1/health");
  auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("TLS handshake"), std::string::npos) << r.error().message();
  // Generous: the point is that it returns at all (it used to wait forever).
  EXPECT_LT(waited, std::chrono::seconds(30));
}

// After stop() the port refuses connections at once (the listening socket is closed, not left
// accepting into a server that no longer answers).
TEST(HttpsServer, StopClosesTheListeningSocket) {
  auto ca_key = crypto::generate_key();
  ASSERT_TRUE(ca_key);
  auto ca = crypto::make_ca_certificate(*ca_key, "test CA", 1);
  auto key = crypto::generate_key();
  ASSERT_TRUE(ca && key);
  auto csr = crypto::make_csr(*key, "127.0.0.1");
  ASSERT_TRUE(csr);
  crypto::IssueOptions io;
  io.common_name = "127.0.0.1";
  io.server = true;
  io.ips = {"127.0.0.1"};
  auto cert = crypto::issue_certificate(*ca_key, *ca, *csr, io);
  ASSERT_TRUE(cert) << cert.error().message();
  auto server = HttpsServer::start({}, {*cert, *key, ""}, [](const Request&) {
    return Response{200, "application/json", "{}", {}};
  });
  ASSERT_TRUE(server) << server.error().message();
  // It answers before stop().
  HttpsClient client("127.0.0.1", (*server)->port(), {*ca, "", "", ""}, 5);
  auto r = client.request("GET", "/");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  const uint16_t port = (*server)->port();
  (*server)->stop();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
}

// A route may accept a large body, decided from the headers before the body is read: the
// caller the policy trusts gets through, everyone else gets 413 at the default limit.
TEST(HttpsServer, BodyLimitIsDecidedPerRequestFromItsHeaders) {
  auto ca_key = crypto::generate_key();
  auto key = crypto::generate_key();
  ASSERT_TRUE(ca_key && key);
  auto ca = crypto::make_ca_certificate(*ca_key, "test CA", 1);
  auto csr = crypto::make_csr(*key, "127.0.0.1");
  ASSERT_TRUE(ca && csr);
  crypto::IssueOptions io;
  io.common_name = "127.0.0.1";
  io.server = true;
  io.ips = {"127.0.0.1"};
  auto cert = crypto::issue_certificate(*ca_key, *ca, *csr, io);
  ASSERT_TRUE(cert) << cert.error().message();
  ServerOptions o;
  o.max_body_bytes = 1 << 20;
  o.body_limit = [](const Request& r) -> size_t {
    return r.method == "PUT" && r.path == "/big" && r.header("authorization") == "Bearer ok"
               ? size_t{32} << 20
               : size_t{1} << 20;
  };
  auto server = HttpsServer::start(o, {*cert, *key, ""}, [](const Request& r) {
    return Response{200, "text/plain", std::to_string(r.body.size()), {}};
  });
  ASSERT_TRUE(server) << server.error().message();
  const std::string body(10 << 20, 'x');
  HttpsClient client("127.0.0.1", (*server)->port(), {*ca, "", "", ""}, 30);
  auto ok = client.request("PUT", "/big", body, {{"Authorization", "Bearer ok"}});
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, std::to_string(body.size()));
  HttpsClient other("127.0.0.1", (*server)->port(), {*ca, "", "", ""}, 30);
  auto refused = other.request("PUT", "/big", body, {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(refused) << refused.error().message();
  EXPECT_EQ(refused->status, 413);
  HttpsClient third("127.0.0.1", (*server)->port(), {*ca, "", "", ""}, 30);
  auto small = third.request("PUT", "/big", std::string(1000, 'y'));
  ASSERT_TRUE(small) << small.error().message();
  EXPECT_EQ(small->body, "1000");
  (*server)->stop();
}

}  // namespace
}  // namespace ironroot::net

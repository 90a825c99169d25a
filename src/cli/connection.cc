#include "connection.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

#include "net/http.h"
#include "verifier/service.h"

namespace ironroot::cli {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void OperatorConnection::add_options(CLI::App* cmd) {
  cmd->add_option("--verifier", url, "Verifier URL")
      ->capture_default_str()
      ->envname("IRONROOT_VERIFIER");
  cmd->add_option("--data-dir", data_dir,
                  "The verifier's data directory: take ca.pem and <principal>.token from it")
      ->envname("IRONROOT_DATA_DIR");
  cmd->add_option("--ca", ca_file, "The verifier's CA certificate (PEM)");
  cmd->add_option("--token-file", token_file, "File holding the principal's token")
      ->envname("IRONROOT_TOKEN_FILE");
  cmd->add_option("--as", as,
                  "With --data-dir: act as this principal, using <data-dir>/<NAME>.token")
      ->capture_default_str();
}

namespace {

// One request with the principal's token; an HTTP error status becomes an Error with the
// verifier's message.
Result<net::Response> send(const OperatorConnection& c, const std::string& method,
                           const std::string& target, const std::string& body) {
  std::string ca = c.ca_file.empty() && !c.data_dir.empty()
                       ? c.data_dir + "/" + verifier::kCaCertFile
                       : c.ca_file;
  std::string tok = c.token_file.empty() && !c.data_dir.empty() ? c.data_dir + "/" + c.as + ".token"
                                                                : c.token_file;
  if (ca.empty() || tok.empty()) {
    return invalid_argument(
        "say where the verifier's CA and token are: --data-dir DIR, or --ca FILE --token-file "
        "FILE");
  }
  std::string token = read_file(tok);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  IRONROOT_ASSIGN_OR_RETURN(auto hp, net::parse_https_url(c.url));
  net::HttpsClient client(hp.first, hp.second, {read_file(ca), "", "", ""});
  IRONROOT_ASSIGN_OR_RETURN(
      net::Response r,
      client.request(method, target, body, {{"Authorization", "Bearer " + token}}));
  if (r.status >= 300) {
    auto j = json::parse(r.body, nullptr, false);
    return Error(r.status == 404 ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                 method + " " + target + ": " + std::to_string(r.status) + ": " +
                     (j.is_object() ? j.value("error", r.body) : r.body));
  }
  return r;
}

}  // namespace

Result<std::string> OperatorConnection::call_text(const std::string& method,
                                                  const std::string& target) const {
  IRONROOT_ASSIGN_OR_RETURN(net::Response r, send(*this, method, target, ""));
  return std::move(r.body);
}

Result<json> OperatorConnection::call(const std::string& method, const std::string& target,
                                      const std::string& body) const {
  IRONROOT_ASSIGN_OR_RETURN(net::Response r, send(*this, method, target, body));
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return malformed("the verifier's answer is not JSON");
  return j;
}

}  // namespace ironroot::cli

// The webhook URL parser, apart from the sink so that the configuration parser (and its fuzz
// target) can use it without the HTTPS stack.
#include <charconv>
#include <string>
#include <string_view>

#include "findings/sink.h"

namespace ironroot::findings {

Result<WebhookUrl> parse_webhook_url(std::string_view url) {
  const std::string_view scheme = "https://";
  if (url.substr(0, scheme.size()) != scheme)
    return invalid_argument("'" + std::string(url) + "' is not an https:// URL");
  std::string_view rest = url.substr(scheme.size());
  WebhookUrl out;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return invalid_argument("'" + std::string(url) + "': unterminated [IPv6] host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid_argument("'" + std::string(url) + "': bad host");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return invalid_argument("'" + std::string(url) + "' has no host");
  if (authority.find('@') != std::string_view::npos)
    return invalid_argument("'" + std::string(url) + "': credentials in URLs are not accepted");
  if (!port_text.empty() || (authority.size() > 0 && authority.back() == ':')) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || v == 0 || v > 65535)
      return invalid_argument("'" + std::string(url) + "' has no valid port");
    out.port = static_cast<uint16_t>(v);
  }
  return out;
}

}  // namespace ironroot::findings

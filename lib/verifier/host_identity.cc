#include "verifier/host_identity.h"

#include <arpa/inet.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace ironroot::verifier {

std::string canonical_mac(const std::string& text) {
  if (text.size() != 17) return "";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i % 3 == 2) {
      if (c != ':' && c != '-') return "";
      out += ':';
    } else {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (out == "00:00:00:00:00:00" || out == "ff:ff:ff:ff:ff:ff") return "";
  return out;
}

std::string canonical_ip(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN] = {};
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
    ::inet_ntop(AF_INET, buf, out, sizeof out);
    return out;
  }
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    ::inet_ntop(AF_INET6, buf, out, sizeof out);
    return out;
  }
  return "";
}

void HostIdentities::add(const std::string& host_id, const std::string& posture_json) {
  auto stored = nlohmann::json::parse(posture_json, nullptr, /*allow_exceptions=*/false);
  if (!stored.is_object()) return;
  const nlohmann::json* p = &stored;
  if (auto it = stored.find("latest"); it != stored.end() && it->is_object()) {
    p = &*it;
  } else if (auto b = stored.find("baseline"); b != stored.end() && b->is_object()) {
    p = &*b;
  }
  auto interfaces = p->find("interfaces");
  if (interfaces == p->end() || !interfaces->is_array()) return;
  for (const auto& n : *interfaces) {
    if (!n.is_object()) continue;
    if (auto mac = n.find("mac"); mac != n.end() && mac->is_string()) {
      std::string m = canonical_mac(mac->get<std::string>());
      if (!m.empty()) owners_[m].insert(host_id);
    }
    auto addresses = n.find("addresses");
    if (addresses == n.end() || !addresses->is_array()) continue;
    for (const auto& a : *addresses) {
      if (!a.is_string()) continue;
      std::string ip = canonical_ip(a.get<std::string>());
      // Link-local IPv6 addresses repeat across hosts by design (fe80::1 on every router).
      if (!ip.empty() && !ip.starts_with("fe80:")) owners_[ip].insert(host_id);
    }
  }
}

std::optional<HostIdentities::Match> HostIdentities::match(const nlohmann::json& flow) const {
  if (!flow.is_object()) return std::nullopt;
  for (const char* end : {"src_mac", "dst_mac", "src", "dst"}) {
    auto it = flow.find(end);
    if (it == flow.end() || !it->is_string()) continue;
    const std::string text = it->get<std::string>();
    std::string key = std::string(end).ends_with("_mac") ? canonical_mac(text) : canonical_ip(text);
    if (key.empty()) continue;
    auto owner = owners_.find(key);
    if (owner == owners_.end() || owner->second.size() != 1) continue;
    return Match{*owner->second.begin(), end, key};
  }
  return std::nullopt;
}

}  // namespace ironroot::verifier
